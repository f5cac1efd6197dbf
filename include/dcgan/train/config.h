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

struct TrainConfig {
  // Run.
  std::string data;    // packed data set directory (manifest.json + shards)
  std::string out;     // run directory
  std::string resume;  // "" = fresh run; "latest" = <out>/checkpoints/latest; else a path
  // Per invocation, like `resume` (never written to config.toml).
  bool overwrite = false;  // a fresh run over old checkpoints moves them to <out>.old-<time>
  double lock_wait = 0;    // seconds to wait for another trainer's lock on <out>
  // > 0: dcgan-train --benchmark STEPS: time STEPS steps (and as many again per phase) of this
  // configuration and print the table; nothing but the logs is written to <out>.
  int64_t benchmark = 0;
  // Model (image size and channels come from the data set's manifest).
  std::string model = "dcgan";  // dcgan | ae | vae
  int64_t nz = 100;
  int64_t ngf = 64;
  int64_t ndf = 64;
  // A fresh run starts from the PyTorch state_dicts <module>.pt in this directory (generator.pt,
  // discriminator.pt; encoder.pt, decoder.pt), as torch.save(model.state_dict()) or dcgan-export
  // wrote them, instead of the seeded init. Ignored on --resume.
  std::string init_from;
  // Schedule.
  int64_t batch_size = 128;  // per rank; the global batch is batch_size * world size
  int64_t epochs = 5;
  int64_t steps = 0;  // > 0 overrides epochs
  // > 0: stop at the first sync point after this many seconds of training (every rank at the same
  // step, agreed with the stop signal), write samples and a checkpoint, and exit 0.
  double time_limit = 0;
  // lr and beta1 NaN (kModelDefault) mean the model's default (resolve_model_defaults).
  double lr = kModelDefault;     // dcgan 2e-4 (the tutorial); ae, vae 1e-3
  double beta1 = kModelDefault;  // dcgan 0.5 (the tutorial); ae, vae 0.9
  double beta2 = 0.999;
  double real_label = 1.0;  // < 1 gives one-sided label smoothing (dcgan)
  double beta = 1.0;        // the VAE's KL weight
  // > 0: an EMA of G's (the decoder's) weights with this half-life in thousands of images
  // (ema.h), checkpointed as generator_ema (decoder_ema), used by samples, FD, dcgan-sample,
  // dcgan-eval and dcgan-export. 0: none, the tutorial.
  double ema_halflife_kimg = 0;
  int64_t seed = 999;
  // Periodic work, in steps.
  int64_t log_every = 50;
  int64_t sample_every = 500;
  int64_t ckpt_every = 500;
  int64_t keep = 3;  // checkpoints kept
  // FD during training: every eval_every steps (a multiple of log_every; 0 = never), eval_samples
  // images decoded from fixed codes against the first eval_samples training images, with the
  // TorchScript extractor eval_features; the value goes into that step's metrics as "fd".
  int64_t eval_every = 0;
  std::string eval_features;
  int64_t eval_samples = 500;
  std::string optimizer = "fused";  // fused (at::_fused_adam_) | torch (torch::optim::Adam)
  std::string precision = "fp32";   // fp32 | tf32 (CUDA) | bf16 (autocast; precision.h)
  bool channels_last = false;       // channels-last (NHWC) models and batches
  // Placement.
  std::string device = "auto";  // auto | cpu | cuda
  int64_t threads = 0;          // CPU threads; 0 = cores available / local ranks
  // Data parallel.
  std::string backend = "auto";  // auto | nccl | mpi
  double bucket_mb = 4.0;
  bool overlap = true;  // start each bucket's all-reduce from backward's gradient hooks
  bool sync_bn = false;
  int64_t check_every = 100;    // cross-rank consistency check period (0 = only at checkpoints)
  std::string on_nan = "fail";  // fail | skip
  // Steps between host reads of the step's device-side flags (non-finite updates, the stop
  // agreement), besides the log, sample and checkpoint steps. 0 = by device: 1 on CPU, where a
  // read is cheap, kSyncEveryCuda on CUDA.
  int64_t sync_every = 0;
  int64_t comm_timeout = 600;  // seconds
  bool cache_data = false;
  bool data_on_device = false;  // the uint8 data set held on the training device (DeviceBatches)
  // The whole step captured once as a CUDA graph and replayed (StepGraph): CUDA with NCCL only,
  // and with --data-on-device (static inputs, noise drawn on the GPU).
  bool cuda_graph = false;
  // Debugging.
  bool deterministic = false;
  bool detect_anomaly = false;
  bool check_nan = false;  // check every loss and gradient each phase, naming the tensor
  // The gradient buckets go through the communicator at world size 1 too (GradReducer's
  // reduce_single_rank), with overlap if on: one GPU then runs the NCCL path of many.
  bool debug_reduce_single_rank = false;
  bool verbose = false;
  bool progress = false;  // rank 0's progress line even where its stderr is no terminal (mpirun)
};

// The option table: one row per option of TrainConfig, in --help order. It drives dcgan-train's
// flags and --help, config.toml (written and read back), the validation of values with a fixed
// set, and the start-up table, so an option is written down once.
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
