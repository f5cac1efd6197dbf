// Tests of dcgan-eval's report: the JSON's keys in their order, values at ten significant digits,
// paths with quotes and backslashes escaped, and the lines; FD scored only when asked.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dcgan/eval/evaluation.h"

namespace dcgan::test {
namespace {

eval::EvalReport report() {
  eval::EvalReport r;
  r.real = "data/\"real\"\\set";
  r.real_samples = 1000;
  r.fake = "dcgan step 40 (EMA)";
  r.fake_samples = 500;
  r.features = "inception.pt";
  r.features_sha256 = "ab12";
  r.dim = 2048;
  r.seed = 7;
  r.fd = 12.3456789012345;
  r.kid = eval::Kid{0.0123456789012, 0.001, 100, 1000};
  return r;
}

TEST(EvalReport, JsonKeepsTheKeysInOrderAndEscapesPaths) {
  const std::string text = eval::report_json(report());
  ASSERT_EQ(text.back(), '\n');
  const auto json = nlohmann::ordered_json::parse(text);
  std::vector<std::string> keys;
  for (const auto& item : json.items()) keys.push_back(item.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"real", "real_samples", "fake", "fake_samples",
                                            "features", "features_sha256", "dim", "seed", "fd",
                                            "kid", "kid_std", "kid_subsets", "kid_subset_size"}));
  EXPECT_EQ(json["real"], "data/\"real\"\\set");
  EXPECT_EQ(json["fd"].get<double>(), 12.34567890);
  EXPECT_EQ(json["kid"].get<double>(), 0.01234567890);
  EXPECT_EQ(json["kid_subsets"], 100);
}

TEST(EvalReport, LinesAndOnlyWhatWasMeasured) {
  eval::EvalReport r = report();
  EXPECT_EQ(eval::report_text(r), "FD 12.3456789\nKID 0.0123456789 ± 0.001\n");
  r.kid.reset();
  EXPECT_EQ(eval::report_text(r), "FD 12.3456789\n");
  const auto json = nlohmann::json::parse(eval::report_json(r));
  EXPECT_FALSE(json.contains("kid"));
  EXPECT_TRUE(json.contains("fd"));
}

TEST(EvalReport, ScoresOnlyWhatIsAsked) {
  const torch::Tensor a = torch::randn({64, 4}, torch::kFloat64);
  const torch::Tensor b = a + 1.0;  // every feature shifted by 1: FD = 4 (the squared mean gap)
  eval::FeatureStats real, fake;
  real.add(a, /*keep_features=*/false);
  fake.add(b, /*keep_features=*/false);
  eval::EvalReport r;
  eval::score(real, fake, /*fd=*/true, /*kid=*/false, 10, 10, &r);
  ASSERT_TRUE(r.fd.has_value());
  EXPECT_NEAR(*r.fd, 4.0, 1e-6);
  EXPECT_FALSE(r.kid.has_value());
  EXPECT_EQ(r.dim, 4);
}

}  // namespace
}  // namespace dcgan::test
