// Checkpoints of a training run: checkpoints/step-NNNNNN/ directories written atomically (temp
// dir, fsync, rename, then the checkpoints/latest pointer), self-describing (format version,
// world size, cursor, RNG states, config), pruned to the last --keep.
//
// Layout of one checkpoint directory:
//   checkpoint.toml     format_version, step, epoch, batch (next batch in the epoch), world_size,
//                       image_size, channels, fingerprints (hex hash of every tensor file),
//                       bytes_<file> and sha256_<file> of every other file, and last
//                       info_sha256, the checksum of the lines above it
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
  RunShape shape;  // image_size, channels, world_size at save time
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
  bool cuda_rng = false;  // save/restore the default CUDA generator too
};

// Accepts a run directory (follows checkpoints/latest), its checkpoints/ directory, or a
// step-NNNNNN directory; returns the step directory. Throws UsageError naming the path if none.
std::string resolve_checkpoint_dir(const std::string& path);

// Whether a checkpoint's files are what was written: every file's size and sha256 against
// checkpoint.toml, and checkpoint.toml against its own last line.
struct CheckpointCheck {
  enum Status { kIntact, kUnverified, kDamaged } status = kIntact;
  std::string problem;  // kDamaged: the file and what is wrong; kUnverified: why not checked
};
CheckpointCheck verify_checkpoint(const std::string& ckpt_dir);

// Throws DataError (exit 3) naming the file when `ckpt_dir` is damaged; logs that a checkpoint
// without checksums could not be verified.
void require_intact(const std::string& ckpt_dir);

// Rank 0 at --resume: for a run (or checkpoints/) directory, `latest` if it is intact, else the
// newest intact step directory, with a warning naming it; every damaged one on the way is
// renamed to step-NNNNNN.damaged (so neither `latest` nor pruning sees it again) and `latest` is
// pointed at the choice. A step directory named directly must itself be intact. Throws UsageError
// when there is no checkpoint at all, DataError when none is intact.
std::string choose_resume_checkpoint(const std::string& path);

// The other ranks: the directory rank 0 chose, from the same --resume path and its step.
std::string checkpoint_dir_at_step(const std::string& path, int64_t step);

// Reads checkpoint.toml + config.toml. Throws DataError naming the file on a bad/missing file and
// UsageError on an unsupported format version.
CheckpointInfo read_checkpoint_info(const std::string& ckpt_dir);

// For dcgan-sample: refuses a damaged checkpoint (DataError), then the generator built from the
// checkpoint's own options with its weights, in eval mode (BN running statistics), on `device`.
models::Generator load_generator(const std::string& ckpt_dir, const torch::Device& device);

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
