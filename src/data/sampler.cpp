// Epoch permutations from (seed, epoch) with our own PRNG, so every rank and platform agrees.
#include "dcgan/data/sampler.h"

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan::data {
namespace {

// splitmix64: tiny, fully specified, and good enough to drive a shuffle.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, bound) without modulo bias: rejects the top partial range.
  uint64_t below(uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t r;
    do {
      r = next();
    } while (r >= limit);
    return r % bound;
  }
};

}  // namespace

std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch) {
  if (n < 0) throw UsageError(str("epoch_permutation: negative size ", n));
  std::vector<int64_t> perm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) perm[static_cast<size_t>(i)] = i;
  // Mix the epoch through one splitmix step so (seed, epoch) pairs do not overlap streams.
  SplitMix64 mixer{static_cast<uint64_t>(epoch) ^ 0x5DEECE66Dull};
  SplitMix64 rng{seed ^ mixer.next()};
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i) + 1));
    std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
  }
  return perm;
}

EpochSampler::EpochSampler(int64_t dataset_size, int64_t batch_per_rank, int world_size, int rank,
                           uint64_t seed)
    : dataset_size_(dataset_size),
      batch_per_rank_(batch_per_rank),
      world_size_(world_size),
      rank_(rank),
      seed_(seed) {
  if (dataset_size < 0 || batch_per_rank <= 0 || world_size <= 0 || rank < 0 || rank >= world_size)
    throw UsageError(str("EpochSampler: invalid arguments (dataset_size ", dataset_size,
                         ", batch_per_rank ", batch_per_rank, ", world_size ", world_size,
                         ", rank ", rank, ")"));
}

EpochPosition EpochSampler::after(EpochPosition p) const {
  return normalized({p.epoch, p.batch + 1});
}

EpochPosition EpochSampler::normalized(EpochPosition p) const {
  const int64_t per_epoch = batches_per_epoch();
  if (per_epoch <= 0 || p.batch < per_epoch) return p;
  return {p.epoch + p.batch / per_epoch, p.batch % per_epoch};
}

int64_t EpochSampler::batches_per_epoch() const {
  return dataset_size_ / (batch_per_rank_ * world_size_);
}

std::vector<int64_t> EpochSampler::rank_batch(int64_t epoch, int64_t batch_idx) {
  if (batch_idx < 0 || batch_idx >= batches_per_epoch())
    throw UsageError(
        str("EpochSampler: batch ", batch_idx, " is outside [0, ", batches_per_epoch(), ")"));
  if (epoch != cached_epoch_) {
    perm_ = epoch_permutation(dataset_size_, seed_, epoch);
    cached_epoch_ = epoch;
  }
  const int64_t begin = batch_idx * batch_per_rank_ * world_size_ + rank_ * batch_per_rank_;
  return std::vector<int64_t>(perm_.begin() + begin, perm_.begin() + begin + batch_per_rank_);
}

}  // namespace dcgan::data
