// TrainConfig: config.toml round trip, refusal of bad files, validation messages, the option table.
#include <gtest/gtest.h>

#include <set>
#include <variant>

#include "dcgan/common/errors.h"
#include "dcgan/train/config.h"

namespace dcgan::train {
namespace {

TEST(TrainConfig, TomlRoundTripsEveryField) {
  TrainConfig c;
  c.data = "data dir \"quoted\"";
  c.out = "run";
  c.nz = 17;
  c.ngf = 9;
  c.ndf = 11;
  c.batch_size = 5;
  c.epochs = 3;
  c.steps = 12;
  c.lr = 0.1 + 0.2;  // not exactly representable: must round-trip bit for bit
  c.beta1 = 0.25;
  c.beta2 = 0.875;
  c.real_label = 0.9;
  c.seed = 123456789;
  c.log_every = 2;
  c.sample_every = 3;
  c.ckpt_every = 4;
  c.keep = 6;
  c.device = "cpu";
  c.threads = 2;
  c.backend = "mpi";
  c.bucket_mb = 0.5;
  c.sync_bn = true;
  c.check_every = 7;
  c.on_nan = "skip";
  c.comm_timeout = 30;
  c.cache_data = true;
  c.deterministic = true;
  c.detect_anomaly = true;
  c.check_nan = true;
  c.verbose = true;
  RunShape shape{64, 3, 4, "cuda:1"};
  TrainConfig back;
  RunShape shape_back;
  config_from_toml(config_to_toml(c, shape), "config.toml", &back, &shape_back);
  // Every field but `resume` (left out on purpose) survives exactly.
  c.resume = back.resume;
  EXPECT_EQ(config_to_toml(back, shape_back), config_to_toml(c, shape));
  EXPECT_EQ(back.data, c.data);
  EXPECT_EQ(back.lr, c.lr);
  EXPECT_EQ(back.real_label, 0.9);
  EXPECT_TRUE(back.sync_bn);
  EXPECT_EQ(back.on_nan, "skip");
  EXPECT_EQ(shape_back.image_size, 64);
  EXPECT_EQ(shape_back.world_size, 4);
  EXPECT_EQ(shape_back.device, "cuda:1");
}

TEST(TrainConfig, RefusesUnknownKeysAndBadValues) {
  TrainConfig c;
  RunShape s;
  try {
    config_from_toml("nz = 10\nbatch_sise = 3\n", "f.toml", &c, &s);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "f.toml:2: unknown key 'batch_sise'");
  }
  try {
    config_from_toml("lr = \"fast\"\n", "f.toml", &c, &s);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "f.toml:1: 'lr' expects a number, got a string");
  }
  try {
    config_from_toml("nz = 4\nlr = fast\n", "f.toml", &c, &s);  // not TOML: toml++'s own message
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("f.toml:2: ", 0), 0u) << e.what();
  }
  try {
    config_from_toml("[runs]\nx = 1\n", "f.toml", &c, &s);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "f.toml:1: unknown table [runs]");
  }
}

TEST(TrainConfig, ValidationNamesTheOption) {
  TrainConfig c;
  c.data = "d";
  c.out = "o";
  EXPECT_NO_THROW(validate_config(c));
  c.batch_size = 0;
  try {
    validate_config(c);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--batch-size must be positive, got 0");
    EXPECT_EQ(e.code(), ExitCode::kUsage);
  }
  c.batch_size = 8;
  c.on_nan = "ignore";
  EXPECT_THROW(validate_config(c), UsageError);
}

TEST(OptionTable, NamesEachOptionOnceWithItsKind) {
  TrainConfig config;
  const auto table = option_table(config);
  std::set<std::string> names;
  std::vector<std::string> required, per_invocation;
  for (const auto& [spec, field] : table) {
    EXPECT_TRUE(names.insert(spec.name).second) << spec.name << " twice";
    EXPECT_FALSE(spec.help.empty()) << spec.name;
    // A fixed set of values is a string option's.
    if (!spec.choices.empty()) {
      EXPECT_TRUE(std::holds_alternative<std::string*>(field)) << spec.name;
    }
    if (spec.required) required.push_back(spec.name);
    if (!spec.saved) per_invocation.push_back(spec.name);
  }
  EXPECT_EQ(table.size(), 52u);
  EXPECT_EQ(required, (std::vector<std::string>{"data", "out"}));
  EXPECT_EQ(per_invocation,
            (std::vector<std::string>{"resume", "overwrite", "benchmark", "lock-wait"}));
  // The rows point into `config`: a write through the table is a write of the field.
  for (const auto& [spec, field] : table) {
    if (spec.name == "batch-size") *std::get<int64_t*>(field) = 7;
  }
  EXPECT_EQ(config.batch_size, 7);
}

TEST(OptionTable, RefusesAValueOutsideItsChoices) {
  TrainConfig config;
  config.data = "d";
  config.out = "o";
  config.precision = "fp8";
  try {
    validate_config(config);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--precision must be fp32, tf32 or bf16, got 'fp8'");
  }
}

}  // namespace
}  // namespace dcgan::train
