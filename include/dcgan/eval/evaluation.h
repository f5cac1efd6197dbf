// One evaluation, as dcgan-eval runs it: the real images' statistics (from the cache when there),
// the scores of the fake ones against them, and the report as lines or JSON. Where the images come
// from (a data set, a checkpoint's decoder) is the caller's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dcgan/distributed/communicator.h"
#include "dcgan/eval/features.h"
#include "dcgan/eval/metrics.h"

namespace dcgan::eval {

// The real images' statistics: read by rank 0 from `cache` when it holds them (what
// `keep_features` needs included), else extracted by every rank and written there by rank 0.
// `cache` "": no cache. Every rank calls it (a collective); rank 0 always gets the statistics,
// the other ranks only when they were extracted (they report nothing).
FeatureStats real_statistics(FeatureExtractor& extractor, int64_t n, int64_t batch,
                             const ImageSource& images, distributed::Communicator& comm,
                             const std::string& cache, bool keep_features);

// What one evaluation measured, and of what.
struct EvalReport {
  std::string real;  // the real images: a data set
  int64_t real_samples = 0;
  std::string fake;  // the fake images: a data set, or "<model> step N" of a checkpoint
  int64_t fake_samples = 0;
  std::string features;  // the extractor's file
  std::string features_sha256;
  int64_t dim = 0;
  int64_t seed = 0;
  std::optional<double> fd;
  std::optional<Kid> kid;
};

// FD and (with features kept) KID of `fake` against `real`, as asked.
void score(const FeatureStats& real, const FeatureStats& fake, bool fd, bool kid,
           int64_t kid_subsets, int64_t kid_subset_size, EvalReport* report);

// "FD <value>" and "KID <mean> ± <std>" lines.
std::string report_text(const EvalReport& report);
// One JSON object on one line: real, real_samples, fake, fake_samples, features,
// features_sha256, dim, seed, then fd, kid, kid_std, kid_subsets, kid_subset_size as measured.
std::string report_json(const EvalReport& report);

}  // namespace dcgan::eval
