// Checkpoints of a training run: checkpoints/step-NNNNNN/ directories written atomically (temp
// dir, fsync, rename, then the checkpoints/latest pointer), self-describing (format version,
// world size, cursor, RNG states, config), pruned to the last --keep.
//
// Layout of one checkpoint directory:
//   checkpoint.toml     format_version, step, epoch, batch (next batch in the epoch), world_size,
//                       image_size, channels, fingerprints (hex FNV-1a of every tensor file)
//   config.toml         the run's options (see config.h)
//   generator.pt        G parameters and buffers (torch::save of the module)
//   discriminator.pt    D parameters and buffers
//   optim_g.pt          Adam state of G (torch::optim serialize)
//   optim_d.pt          Adam state of D
//   state.pt            fixed_noise [64, nz, 1, 1], rng_cpu, rng_cuda (when used), rng_z
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

#include "dcgan/models/dcgan.h"
#include "dcgan/train/config.h"

namespace dcgan::train {

inline constexpr int kCheckpointFormatVersion = 1;

// Where training stands: `step` steps are done; the next batch is `batch` of `epoch`.
// The model options a run's config and data shape imply (norm layer left at its default).
models::DcganOptions model_options(const TrainConfig& config, const RunShape& shape);

struct TrainCursor {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t batch = 0;
};

// What checkpoint.toml and config.toml describe.
struct CheckpointInfo {
  std::string dir;  // the step-NNNNNN directory
  int format_version = 0;
  TrainCursor cursor;
  TrainConfig config;
  RunShape shape;   // image_size, channels, world_size at save time
  // The model's options (nz, ngf, ndf, channels, image_size); norm = plain BatchNorm2d, whose
  // parameter/buffer names sync-BN shares, so any checkpoint loads into it.
  models::DcganOptions model_options() const;
};

// Non-owning view of everything a checkpoint holds.
struct TrainingState {
  models::Generator* generator = nullptr;
  models::Discriminator* discriminator = nullptr;
  torch::optim::Adam* opt_g = nullptr;
  torch::optim::Adam* opt_d = nullptr;
  torch::Tensor* fixed_noise = nullptr;
  at::Generator* z_generator = nullptr;  // the latent-noise RNG (CPU)
  TrainCursor* cursor = nullptr;
  bool cuda_rng = false;                 // save/restore the default CUDA generator too
};

// Accepts a run directory (follows checkpoints/latest), its checkpoints/ directory, or a
// step-NNNNNN directory; returns the step directory. Throws UsageError naming the path if none.
std::string resolve_checkpoint_dir(const std::string& path);

// Reads checkpoint.toml + config.toml. Throws DataError naming the file on a bad/missing file and
// UsageError on an unsupported format version.
CheckpointInfo read_checkpoint_info(const std::string& ckpt_dir);

// For dcgan-sample: the generator built from the checkpoint's own options with its weights, in
// eval mode (BN running statistics), on `device`.
models::Generator load_generator(const std::string& ckpt_dir, const torch::Device& device);
// The run's 64 fixed noise vectors [64, nz, 1, 1] (CPU).
torch::Tensor load_fixed_noise(const std::string& ckpt_dir);

// Writes <run_dir>/checkpoints/step-NNNNNN atomically, points checkpoints/latest at it and
// removes all but the newest `keep`. A failure (ENOSPC included) removes the partial temp dir,
// leaves the previous checkpoint and `latest` intact and throws Error naming the file.
// Returns the step directory.
std::string save_checkpoint(const std::string& run_dir, const TrainingState& state,
                            const TrainConfig& config, const RunShape& shape);

// Restores every part of `state` from `ckpt_dir`. The checkpoint's model options must equal the
// config's (nz, ngf, ndf) and `shape` (image_size, channels), and every tensor's shape must
// match: otherwise UsageError naming the mismatch. Returns the checkpoint's info.
CheckpointInfo restore_checkpoint(const std::string& ckpt_dir, const TrainingState& state,
                                  const TrainConfig& config, const RunShape& shape);

// Loads parameters and buffers saved by torch::save(module) into `module` by name, refusing
// missing tensors and shape mismatches (UsageError naming `what` and the tensor).
void load_module_checked(const std::string& file, torch::nn::Module& module,
                         const std::string& what);

}  // namespace dcgan::train
