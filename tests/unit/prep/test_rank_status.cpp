// rank_status: the job's one status from every rank's, in exact text, and the agreement run on a
// one-rank LocalComm.
#include <gtest/gtest.h>

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "rank_status.h"

namespace dcgan::prep {
namespace {

using nlohmann::json;

json ok() { return {{"code", 0}}; }
json failed(int code, const std::string& message, int64_t shard) {
  json s = error_status(code, message);
  s["shard"] = shard;
  return s;
}

TEST(RankStatus, RankListJoinsRuns) {
  EXPECT_EQ(rank_list({3}), "rank 3");
  EXPECT_EQ(rank_list({0, 1}), "ranks 0,1");
  EXPECT_EQ(rank_list({0, 2}), "ranks 0,2");
  EXPECT_EQ(rank_list({0, 1, 2, 3, 5}), "ranks 0-3,5");
  EXPECT_EQ(rank_list({1, 2, 3, 7, 8}), "ranks 1-3,7,8");
}

TEST(RankStatus, NoFailureIsOk) {
  EXPECT_EQ(merge_statuses({ok(), ok()}), ok());
  EXPECT_EQ(merge_statuses({}), ok());
}

TEST(RankStatus, OneRanksErrorNamesTheRank) {
  const json job =
      merge_statuses({ok(), failed(3, "image d.png is neither JPEG nor PNG", 1), ok()});
  EXPECT_EQ(job, error_status(3, "rank 1: image d.png is neither JPEG nor PNG"));
}

TEST(RankStatus, AnErrorEveryRankHitIsPrintedWithoutRanks) {
  const json e = error_status(2, "--channels 2: expected 1 or 3");
  EXPECT_EQ(merge_statuses({e, e, e}), e);
  EXPECT_EQ(merge_statuses({e}), e);
}

TEST(RankStatus, DistinctErrorsOnceEachInShardOrder) {
  // Ranks 0 and 3 share a message; rank 2's shard comes first in source order, so its line and
  // its exit code lead; an error outside any shard (rank 4) comes before both.
  const json job = merge_statuses({failed(3, "bad a.png", 4), ok(), failed(1, "disk full", 2),
                                   failed(3, "bad a.png", 7), error_status(3, "no input")});
  EXPECT_EQ(job, error_status(3, "rank 4: no input\nrank 2: disk full\nranks 0,3: bad a.png"));
  const json shard_first =
      merge_statuses({failed(3, "bad a.png", 4), ok(), failed(1, "disk full", 2)});
  EXPECT_EQ(shard_first["code"], 1);
}

TEST(RankStatus, EveryLineOfAMessageNamesItsRanks) {
  EXPECT_EQ(merge_statuses({ok(), error_status(1, "first\nsecond")}),
            error_status(1, "rank 1: first\nrank 1: second"));
}

TEST(RankStatus, AtMostMaxLinesThenACount) {
  std::vector<json> by_rank;
  for (int r = 0; r < 10; ++r) by_rank.push_back(failed(3, "bad " + std::to_string(r), r));
  const std::string text = merge_statuses(by_rank)["error"];
  std::string expected;
  for (size_t r = 0; r < kMaxErrorLines; ++r)
    expected += "rank " + std::to_string(r) + ": bad " + std::to_string(r) + "\n";
  EXPECT_EQ(text, expected + "and 2 more distinct error(s)");
}

TEST(RankStatus, RunGuardedOnRanksPrintsOnceAndReturnsTheCode) {
  log::init({});
  LocalComm comm;
  EXPECT_EQ(run_guarded_on_ranks("t", comm, [] { return 0; }), 0);
  testing::internal::CaptureStderr();
  const int code = run_guarded_on_ranks("t", comm, []() -> int { throw DataError("x.h5: bad"); });
  const std::string printed = testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 3);
  EXPECT_NE(printed.find("t: error: x.h5: bad\n"), std::string::npos) << printed;
  EXPECT_EQ(printed.find("t: error:"), printed.rfind("t: error:")) << printed;
}

}  // namespace
}  // namespace dcgan::prep
