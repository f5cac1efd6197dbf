// TrainConfig: every option of dcgan-train in one struct, its validation, and its round trip
// through the run's config.toml (which is also a valid `dcgan-train --config` file).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace dcgan::models {
struct NetOptions;  // models/dcgan.h: this header stays torch-free
}  // namespace dcgan::models

namespace dcgan::train {

// The value of lr and beta1 that stands for "the model's default": NaN, which no valid option
// takes (any number a user gives, -1 included, is validated as given).
inline constexpr double kModelDefault = std::numeric_limits<double>::quiet_NaN();

// True for kModelDefault.
inline bool is_model_default(double value) { return std::isnan(value); }

// Every option of dcgan-train, declared by options.def, which lists each one once.
struct TrainConfig {
#define DCGAN_OPTION(type, field, initial, row) type field = initial;
#include "dcgan/train/options.def"
#undef DCGAN_OPTION
};

// The option table: one row per option of TrainConfig, in --help order, built from options.def.
// It drives dcgan-train's flags and --help, config.toml (written and read back), the validation
// of values with a fixed set, and the start-up table.
struct OptionSpec {
  std::string name;                  // the long flag without "--", and the config.toml key
  std::string help;                  // one line of --help
  std::vector<std::string> choices;  // the values it takes; empty: any of its type
  std::string value_name;            // shown in --help instead of the type ("SECONDS"); "" none
  std::string default_text;          // shown in --help instead of the default; "" none
  bool required = false;
  bool saved = true;  // in config.toml; false: it describes one invocation (--resume, ...)
};

// A pointer to an option's field.
using OptionField = std::variant<std::string*, int64_t*, double*, bool*>;

// Every option of `config`, in --help order, each with its field.
std::vector<std::pair<OptionSpec, OptionField>> option_table(TrainConfig& config);

// --sync-every 0 on CUDA.
inline constexpr int64_t kSyncEveryCuda = 20;

// Values derived at start, not options: written to config.toml's [run] table.
struct RunShape {
  int64_t image_size = 0;
  int64_t channels = 0;
  int64_t world_size = 1;
  std::string device;  // resolved: "cpu" or "cuda:N"
};

// The run's length and rhythm, derived at start from the options, the data and the device.
struct RunPlan {
  int64_t batches_per_epoch = 0;
  int64_t total_steps = 0;
  int64_t epochs = 0;      // E of the console's [e/E]
  int64_t sync_every = 1;  // --sync-every, resolved by device
};

// Replaces kModelDefault in lr and beta1 by the model's value in the model registry: dcgan lr
// 2e-4, beta1 0.5 (the tutorial's); ae and vae lr 1e-3, beta1 0.9. Other models are left for
// validate_config to refuse.
void resolve_model_defaults(TrainConfig* config);

// The nets' options a run's config and data shape imply (the norm layer left at BatchNorm2d).
models::NetOptions net_options(const TrainConfig& config, const RunShape& shape);

// Throws UsageError naming the option when a value is out of range.
void validate_config(const TrainConfig& config);

// config.toml text: one `key = value` line per option (keys are the long flag names), then a
// [run] table with the derived shape. `resume`, `overwrite`, `lock_wait` and `benchmark` are left
// out: they describe one invocation.
std::string config_to_toml(const TrainConfig& config, const RunShape& shape);

// Parses what config_to_toml wrote (unknown keys are refused, naming them and the line).
// Throws UsageError naming `origin` and the line on a syntax error.
void config_from_toml(const std::string& text, const std::string& origin, TrainConfig* config,
                      RunShape* shape);

// The resolved options as an aligned two-column table for the start-up log.
std::string config_table(const TrainConfig& config, const RunShape& shape);

}  // namespace dcgan::train
