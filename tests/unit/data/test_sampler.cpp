// Epoch permutations and the per-rank batch split: a permutation, deterministic, epoch-dependent,
// ranks disjoint and covering each global batch, partial batch dropped.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "dcgan/common/errors.h"
#include "dcgan/data/sampler.h"

namespace dcgan::data {
namespace {

TEST(EpochPermutation, IsADeterministicPermutationThatChangesPerEpoch) {
  const auto a = epoch_permutation(1000, 42, 0);
  auto sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_EQ(a, epoch_permutation(1000, 42, 0));
  EXPECT_NE(a, epoch_permutation(1000, 42, 1));
  EXPECT_NE(a, epoch_permutation(1000, 43, 0));
  EXPECT_TRUE(epoch_permutation(0, 1, 0).empty());
  EXPECT_EQ(epoch_permutation(1, 1, 0), std::vector<int64_t>{0});
}

TEST(EpochPermutation, PinnedValuesKeepResumedRunsOnTheSameOrder) {
  // splitmix64 + rejection sampling + Fisher-Yates is fully specified; these values pin it so a
  // compiler, platform or refactor change that would reorder resumed epochs fails here. The
  // values were cross-checked with an independent Python implementation of the same algorithm.
  const auto p = epoch_permutation(10, 1, 0);
  const auto q = epoch_permutation(10, 1, 0);
  EXPECT_EQ(p, q);
  EXPECT_EQ(p, (std::vector<int64_t>{4, 3, 9, 7, 2, 5, 1, 6, 0, 8}));
}

TEST(EpochSampler, RanksSplitEachGlobalBatchAndDropThePartialOne) {
  const int64_t n = 103, b = 4;
  const int world = 3;
  std::vector<EpochSampler> ranks;
  for (int r = 0; r < world; ++r) ranks.emplace_back(n, b, world, r, 9);
  EXPECT_EQ(ranks[0].batches_per_epoch(), 8);  // 103 / 12, the last 7 images dropped
  const auto perm = epoch_permutation(n, 9, 2);
  std::set<int64_t> seen;
  for (int64_t k = 0; k < 8; ++k) {
    for (int r = 0; r < world; ++r) {
      const auto batch = ranks[static_cast<size_t>(r)].rank_batch(2, k);
      ASSERT_EQ(batch.size(), static_cast<size_t>(b));
      for (int64_t j = 0; j < b; ++j) {
        EXPECT_EQ(batch[static_cast<size_t>(j)],
                  perm[static_cast<size_t>(k * b * world + r * b + j)]);
        EXPECT_TRUE(seen.insert(batch[static_cast<size_t>(j)]).second);
      }
    }
  }
  EXPECT_EQ(seen.size(), 96u);
  EXPECT_THROW(ranks[0].rank_batch(2, 8), UsageError);
  EXPECT_THROW(EpochSampler(10, 0, 1, 0, 1), UsageError);
  EXPECT_THROW(EpochSampler(10, 2, 2, 2, 1), UsageError);
}

// 10 images, 2 ranks x 2 per rank: 2 full global batches per epoch, the rest dropped.
TEST(EpochSampler, PositionsRollOverInOnePlace) {
  const EpochSampler sampler(10, 2, 2, 0, 7);
  ASSERT_EQ(sampler.batches_per_epoch(), 2);
  const EpochPosition a = sampler.after({0, 0});
  EXPECT_EQ(a.epoch, 0);
  EXPECT_EQ(a.batch, 1);
  const EpochPosition b = sampler.after(a);
  EXPECT_EQ(b.epoch, 1);
  EXPECT_EQ(b.batch, 0);
  const EpochPosition c = sampler.normalized({3, 5});  // a cursor past its epoch's end
  EXPECT_EQ(c.epoch, 5);
  EXPECT_EQ(c.batch, 1);
  const EpochPosition d = sampler.normalized({3, 1});
  EXPECT_EQ(d.epoch, 3);
  EXPECT_EQ(d.batch, 1);
}

}  // namespace
}  // namespace dcgan::data
