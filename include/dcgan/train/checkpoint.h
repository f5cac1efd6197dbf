// The checkpoint room's public face. Checkpoints of a training run: checkpoints/step-NNNNNN/
// directories written atomically (temp dir, fsync, rename, then the checkpoints/latest pointer),
// self-describing (format version, model, world size, cursor, RNG states, config), pruned to the
// last --keep. The room, in src/train/checkpoint/:
//   format.*          the layout below, format 1's compatibility, checkpoint.toml
//   integrity.*       sizes and sha256 of every file, verify_checkpoint
//   store.*           step directories, `latest`, atomic publish, pruning, quarantine, choosing
//   archive.*         torch archives written durably, read back with every shape checked
//   training_state.*  save_checkpoint beside restore_checkpoint
//   models.*          a checkpoint's nets for the tools, built through the model registry
//
// Format 2, one extensible layout of named entries (a new module, optimizer or tensor is a new
// entry, not a new version):
//   checkpoint.toml     format_version, model (dcgan | ae | vae), step, epoch, batch (next batch
//                       in the epoch), world_size, image_size, channels, the entry lists
//                       modules, optimizers and tensors, fingerprint_<stem> of every module and
//                       optimizer file, bytes_<stem> and sha256_<stem> of every file, and last
//                       info_sha256, the checksum of the lines above it
//   config.toml         the run's options (see config.h)
//   <module>.pt         each module's parameters and buffers (torch::save of the module)
//   optim_<name>.pt     each Adam state (torch::optim serialize)
//   state.pt            each named tensor (fixed_noise), rng_cpu, rng_cuda (when used), rng_z
// The DCGAN's entries: modules generator, discriminator; optimizers g, d; tensors fixed_noise.
// Format 1 (before the recipes) was exactly those files with the lists implied: it still
// resumes and samples.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "dcgan/common/errors.h"
#include "dcgan/models/autoencoder.h"
#include "dcgan/models/dcgan.h"
#include "dcgan/models/registry.h"
#include "dcgan/train/config.h"
#include "dcgan/train/recipe.h"

namespace dcgan::train {

inline constexpr int kCheckpointFormatVersion = 2;
inline constexpr int kOldestCheckpointFormatVersion = 1;

// Where training stands: `step` steps are done; the next batch is `batch` of `epoch`.
struct TrainCursor {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t batch = 0;
};

// What checkpoint.toml and config.toml describe.
struct CheckpointInfo {
  std::string dir;  // the step-NNNNNN directory
  int format_version = 0;
  std::string model;                 // a model of the registry: dcgan | ae | vae
  std::vector<std::string> modules;  // entry names, in saved order
  std::vector<std::string> optimizers;
  std::vector<std::string> tensors;
  TrainCursor cursor;
  TrainConfig config;
  RunShape shape;  // image_size, channels, world_size at save time
  // The nets' options (nz, ngf, ndf, channels, image_size); norm = plain BatchNorm2d, whose
  // parameter/buffer names sync-BN shares, so any checkpoint loads into it.
  models::NetOptions net_options() const;
};

// Non-owning view of everything a checkpoint holds.
struct TrainingState {
  std::string model = "dcgan";
  std::vector<NamedModule> modules;
  std::vector<NamedOptimizer> optimizers;
  std::vector<NamedTensor> tensors;
  at::Generator* z_generator = nullptr;  // the step-noise RNG (on the training device)
  TrainCursor* cursor = nullptr;
  // A CUDA device: its default generator is saved and restored too (this rank's GPU, not GPU 0).
  torch::Device device = torch::kCPU;
};

// The state of a recipe's run on `device`.
TrainingState training_state(Recipe& recipe, at::Generator* z_generator, TrainCursor* cursor,
                             torch::Device device);

// Restores a checkpoint's latent-noise RNG state into `generator`. A state of the other kind (a
// CPU generator's saved by a CUDA run that drew its noise on the host, before the noise moved to
// the GPU, or back) cannot be carried over: the generator is then seeded from a hash of the saved
// bytes, so that every resume from that checkpoint draws the same stream, and false is returned
// (the caller warns that the noise stream changes). True when the state was restored as saved.
bool restore_noise_state(at::Generator& generator, const torch::Tensor& saved);

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

// Rank 0 at --resume: for a run (or checkpoints/) directory, `latest` if it is intact, else the
// newest intact step directory, with a warning naming it; every damaged one on the way is
// renamed to step-NNNNNN.damaged (so neither `latest` nor pruning sees it again) and `latest` is
// pointed at the choice. A step directory named directly must itself be intact. Throws UsageError
// when there is no checkpoint at all, DataError when none is intact.
std::string choose_resume_checkpoint(const std::string& path);

// The other ranks: the directory rank 0 chose, from the same --resume path and its step.
std::string checkpoint_dir_at_step(const std::string& path, int64_t step);

// Reads checkpoint.toml + config.toml (format 1 or 2). Throws DataError naming the file on a
// bad/missing file and UsageError on an unsupported format version.
CheckpointInfo read_checkpoint_info(const std::string& ckpt_dir);

// For dcgan-sample: refuses a damaged checkpoint (DataError), then the image decoder (DCGAN's
// generator, the AE/VAE's decoder: both a models::Generator) built from the checkpoint's own
// options with its weights, in eval mode (BN running statistics), on `device`.
// `ema`: the decoder's EMA (generator_ema, decoder_ema) when the checkpoint has one.
models::Generator load_generator(const std::string& ckpt_dir, const torch::Device& device,
                                 bool ema = true);

// dcgan-sample's models, the checkpoint verified and read once: its info, its decoder, and (asked
// for, and the model has one) its encoder, else an empty holder.
struct SamplingModels {
  CheckpointInfo info;
  models::Generator decoder{nullptr};
  models::Encoder encoder{nullptr};
};
SamplingModels load_sampling_models(const std::string& ckpt_dir, const torch::Device& device,
                                    bool with_encoder, bool ema = true);

// The name of the checkpoint's decoder module (the registry's: generator for dcgan, decoder for
// ae and vae), or its EMA when `ema` and the checkpoint has one.
std::string decoder_module(const CheckpointInfo& info, bool ema);

// For the tools that read a checkpoint a user named: any failure to read it (UsageError for "no
// checkpoint here", torch's loader) as a DataError (exit 3) with the first line of its message,
// naming `path`.
DataError checkpoint_read_error(const std::string& path, const std::exception& error);

// The tools' way to open the checkpoint a user named at `path` (a run, checkpoints/ or a step
// directory): `read` (one of the loaders above) of its step directory; any failure to find or
// read it is a DataError naming `path`.
template <class Read>
auto open_user_checkpoint(const std::string& path, Read&& read) {
  try {
    return read(resolve_checkpoint_dir(path));
  } catch (const DataError&) {
    throw;
  } catch (const std::exception& e) {
    throw checkpoint_read_error(path, e);
  }
}

// Every module a checkpoint lists (dcgan: generator, discriminator; ae, vae: encoder, decoder;
// the EMA generator_ema or decoder_ema when there is one and `with_ema`),
// the checkpoint verified first (DataError when damaged), each built from the checkpoint's options
// with its weights, in eval mode, on `device`, in the checkpoint's order. For dcgan-export.
struct CheckpointModules {
  CheckpointInfo info;
  std::vector<NamedModule> modules;
};
CheckpointModules load_checkpoint_modules(const std::string& ckpt_dir, const torch::Device& device,
                                          bool with_ema = true);

// Writes <run_dir>/checkpoints/step-NNNNNN atomically, points checkpoints/latest at it and
// removes all but the newest `keep`. A failure (ENOSPC included) removes the partial temp dir,
// leaves the previous checkpoint and `latest` intact and throws Error naming the file.
// Returns the step directory.
std::string save_checkpoint(const std::string& run_dir, const TrainingState& state,
                            const TrainConfig& config, const RunShape& shape);

// Restores every part of `state` from `ckpt_dir`. The checkpoint's model must be state.model, its
// model options must equal the config's (nz, ngf, ndf) and `shape` (image_size, channels), it
// must hold every entry of `state`, and every tensor's shape must match: otherwise UsageError
// naming the mismatch. Entries the state does not name are left, with a warning. Returns the
// checkpoint's info.
CheckpointInfo restore_checkpoint(const std::string& ckpt_dir, const TrainingState& state,
                                  const TrainConfig& config, const RunShape& shape);

// Loads parameters and buffers saved by torch::save(module) into `module` by name, refusing
// missing tensors and shape mismatches (UsageError naming `what` and the tensor).
void load_module_checked(const std::string& file, torch::nn::Module& module,
                         const std::string& what);

}  // namespace dcgan::train
