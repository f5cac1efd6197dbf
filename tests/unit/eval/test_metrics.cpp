// FD and KID: closed forms, the moments, and an independent Python computation (numpy/scipy as
// pytorch-fid computes FD; numpy over torch.randperm subsets as torch-fidelity computes KID) on
// random features, within 1e-6 relative (reference_metrics.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/eval/metrics.h"
#include "dcgan/interop/state_dict.h"
#include "support/test_support.h"
#include "unit/train/python_reference.h"

namespace dcgan::eval {
namespace {

FeatureStats stats_of(const torch::Tensor& f, bool keep = false) {
  FeatureStats s;
  s.add(f, keep);
  return s;
}

TEST(FrechetDistance, MatchesTheClosedFormOfDiagonalGaussians) {
  // FD of N(m1, diag(a)) and N(m2, diag(b)) is |m1 - m2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
  const torch::Tensor a = torch::tensor({1.0, 4.0, 0.25}, torch::kFloat64);
  const torch::Tensor b = torch::tensor({9.0, 1.0, 0.25}, torch::kFloat64);
  const Moments p{torch::tensor({0.0, 1.0, 2.0}, torch::kFloat64), torch::diag(a)};
  const Moments q{torch::tensor({3.0, 1.0, 0.0}, torch::kFloat64), torch::diag(b)};
  const double expected = 9 + 0 + 4 + (1 - 3) * (1 - 3) + (2 - 1) * (2 - 1) + 0;
  EXPECT_NEAR(frechet_distance(p, q), expected, 1e-12);
  EXPECT_NEAR(frechet_distance(q, p), expected, 1e-12);
  EXPECT_NEAR(frechet_distance(p, p), 0.0, 1e-12);
}

TEST(FrechetDistance, MomentsAreTheMeanAndTheUnbiasedCovarianceWhateverTheBatches) {
  torch::manual_seed(5);
  const torch::Tensor f = torch::randn({50, 4}) * 3 + 1;
  FeatureStats batched;
  for (int64_t i = 0; i < 50; i += 7)
    batched.add(f.narrow(0, i, std::min<int64_t>(7, 50 - i)), true);
  EXPECT_EQ(batched.count, 50);
  EXPECT_TRUE(torch::equal(batched.features, f));
  const Moments m = moments(batched);
  const torch::Tensor d = f.to(torch::kFloat64);
  EXPECT_TRUE(torch::allclose(m.mean, d.mean(0), 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(m.cov, torch::cov(d.t()), 1e-12, 1e-12));
  FeatureStats one;
  one.add(f.narrow(0, 0, 1), false);
  try {
    moments(one);
    ADD_FAILURE() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "FD needs at least 2 images per set, got 1");
  }
}

TEST(KernelInceptionDistance, MatchesItsDefinitionOnOneWholeSubset) {
  // m = n = 3, one subset: every row is in it, whatever the order.
  const torch::Tensor x = torch::tensor({{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}}, torch::kFloat64);
  const torch::Tensor y = torch::tensor({{0.5, 0.0}, {0.0, 0.0}, {2.0, 1.0}}, torch::kFloat64);
  auto k = [](const torch::Tensor& a, const torch::Tensor& b) {
    return std::pow(a.dot(b).item<double>() / 2 + 1, 3);
  };
  double xx = 0, yy = 0, xy = 0;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      if (i != j) xx += k(y[i], y[j]), yy += k(x[i], x[j]);
      xy += k(y[i], x[j]);
    }
  }
  const double expected = (xx + yy) / 6 - 2 * xy / 9;
  const Kid kid = kernel_inception_distance(x, y, 1, 1000, 0);
  EXPECT_EQ(kid.subset_size, 3);
  EXPECT_NEAR(kid.mean, expected, 1e-12);
  EXPECT_EQ(kid.std, 0.0);
}

struct Case {
  int64_t real, fake, subsets, subset_size;
};

void check_against_python(const Case& c) {
  const char* python = std::getenv("DCGAN_PYTHON");
  if (python == nullptr || *python == '\0')
    GTEST_SKIP() << "DCGAN_PYTHON is not set (ctest sets it)";
  test::ScratchDir dir("metrics");
  torch::manual_seed(11);
  const torch::Tensor real = torch::randn({c.real, 16});
  // A shifted, rescaled and mixed set: a large FD, a covariance unlike the real one.
  const torch::Tensor fake = torch::randn({c.fake, 16}).matmul(torch::randn({16, 16}) * 0.4) + 0.3;
  const uint64_t seed = 42;
  interop::save_state_dict(dir / "features.pt", {{"real", real}, {"fake", fake}});
  std::ofstream(dir / "config.json") << "{\"seed\": " << seed << ", \"subsets\": " << c.subsets
                                     << ", \"subset_size\": " << c.subset_size << "}";
  std::string output;
  ASSERT_EQ(test::run_command(std::string(python) + " " +
                                  test::source_path("tests/unit/eval/reference_metrics.py") + " " +
                                  dir.path(),
                              &output),
            0)
      << output;
  const std::string json = read_file(dir / "results.json");
  const double fd = frechet_distance(moments(stats_of(real)), moments(stats_of(fake)));
  const double want_fd = test::json_number(json, "fd");
  EXPECT_GT(want_fd, 1.0);
  EXPECT_NEAR(fd, want_fd, 1e-6 * want_fd);
  const Kid kid = kernel_inception_distance(real, fake, c.subsets, c.subset_size, seed);
  const double want_kid = test::json_number(json, "kid");
  const double want_std = test::json_number(json, "kid_std");
  EXPECT_GT(want_kid, 0.0);
  EXPECT_NEAR(kid.mean, want_kid, 1e-6 * want_kid);
  EXPECT_NEAR(kid.std, want_std, 1e-6 * want_std + 1e-15);
  EXPECT_EQ(kid.subset_size, std::min({c.subset_size, c.real, c.fake}));
}

TEST(Metrics, FdAndKidMatchNumpyAndScipyOnRandomFeatures) {
  check_against_python({600, 400, 20, 100});
}

TEST(Metrics, KidSubsetsShrinkToTheSmallerSet) { check_against_python({300, 120, 5, 1000}); }

}  // namespace
}  // namespace dcgan::eval
