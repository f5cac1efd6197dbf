// Recipe: what one model brings to the generic Trainer. Its named modules (checkpointed,
// broadcast and checked across ranks by name; Note [BN statistics ride on the gradient
// all-reduce] in grad_reducer.h), its optimizers, its extra saved
// tensors (the fixed noise), its step, its named stats and its sample grids. The Trainer owns the
// loop, the data, the noise draw, checkpoints, metrics and the preemption agreement.
//
// Recipes: "dcgan" (GanStep, the PyTorch tutorial's step), "ae" (MSE autoencoder), "vae" (SSE +
// beta KL, reparameterised). A recipe uses the communicator for its gradient averages (through
// GradReducer), the shared non-finite guard and sync-BN layers; its models know no MPI.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/grad_reducer.h"
#include "dcgan/train/benchmark.h"
#include "dcgan/train/config.h"
#include "dcgan/train/image_grid.h"

namespace dcgan::train {

struct NamedModule {
  std::string name;  // also the checkpoint file stem (<name>.pt)
  std::shared_ptr<torch::nn::Module> module;
};

struct NamedOptimizer {
  std::string name;  // checkpoint file optim_<name>.pt; metrics key lr_<name> (lr when alone)
  torch::optim::Adam* optimizer = nullptr;
};

struct NamedTensor {
  std::string name;  // a key of the checkpoint's state.pt
  torch::Tensor* tensor = nullptr;
};

// What one step returns.
struct StepResult {
  torch::Tensor stats;  // [stat_names().size()] float, on the training device (no host sync)
  // [updates] float32 on the training device, in the step's order (DCGAN: D, G; AE/VAE: the one
  // update): 1 where the update was skipped on every rank (a non-finite loss or gradient).
  torch::Tensor skipped;
};

// What a sample grid shows. The Reporter names its file and TensorBoard tag (reporter.h).
enum class GridKind {
  kSamples,          // decoded fixed noise: samples/step-NNNNNN.png, tag "samples"
  kReconstructions,  // originals over their reconstructions: samples/recon-NNNNNN.png, tag "recon"
};

// One sample grid of the current weights.
struct SampleGrid {
  GridKind kind = GridKind::kSamples;
  torch::Tensor images;         // float [-1, 1] NCHW
  int64_t nrow = kGridColumns;  // images per grid row
};

class Recipe {
 public:
  virtual ~Recipe() = default;
  virtual std::string model() const = 0;  // "dcgan" | "ae" | "vae"
  // In a fixed order, the same on every rank.
  virtual std::vector<NamedModule> modules() = 0;
  virtual std::vector<NamedOptimizer> optimizers() = 0;
  virtual std::vector<NamedTensor> tensors() = 0;
  // Per-sample width of the step's noise (GAN latents, VAE epsilon): the Trainer draws it as one
  // global [B x world, noise_size, 1, 1] draw from the shared RNG, each rank taking its rows.
  // 0: the step takes no noise.
  virtual int64_t noise_size() const = 0;
  virtual std::vector<std::string> stat_names() const = 0;
  // The console line's part for these (rank-averaged) stats, in stat_names() order.
  virtual std::string console_stats(const std::vector<double>& stats) const = 0;
  // One step on this rank's `real` batch (float [-1, 1] NCHW on the training device) and its
  // noise rows. `step` (1-based) only names the step in errors.
  virtual StepResult step(const torch::Tensor& real, const torch::Tensor& noise, int64_t step) = 0;
  // The host read of the steps' device-side non-finite flags, after `step`. The Trainer calls it
  // every --sync-every steps and at log, sample and checkpoint points (the same steps on every
  // rank). Throws Error naming the first non-finite step under --on-nan fail; logs the skipped
  // updates under --on-nan skip.
  virtual void report(int64_t step) = 0;
  // The grids of the current weights at `step`, rendered in eval mode (the running statistics
  // are used, not updated). Every rank calls it: sync-BN layers are collectives.
  virtual std::vector<SampleGrid> samples() = 0;
  // The images the model's decoder (DCGAN's generator, the AE/VAE decoder) makes of N(0, 1)
  // codes [B, nz, 1, 1] on the training device, float [-1, 1] NCHW, in eval mode (the running
  // statistics are used, not updated): what FD during training measures. Every rank calls it.
  // With --ema-halflife-kimg, through the EMA of the decoder's weights.
  virtual torch::Tensor decode(const torch::Tensor& codes) = 0;
  // The decoder's EMA (--ema-halflife-kimg) restarted at the current weights; a no-op without one.
  virtual void reset_ema() {}
  // Floating-point operations of one step per training image, forward and backward, counting the
  // convolutions only: the benchmark's FLOP floor. 0 where the recipe does not work it out.
  virtual double step_flops_per_image() const { return 0; }
};

// Everything a recipe is built from. `reference` are fixed training images (float [-1, 1], on
// the training device, the same on every rank) for reconstruction grids.
struct RecipeContext {
  const TrainConfig& config;
  const RunShape& shape;
  distributed::Communicator& comm;
  torch::Device device;
  torch::Tensor reference;
  PhaseTimer* timer = nullptr;  // dcgan-train --benchmark: the step laps its phases on it
};

// The recipe config.model names, with modules initialised from config.seed exactly as the
// tutorial does (on the CPU, then moved to the device), optimizers and gradient reducers.
// Throws UsageError on an unknown model.
std::unique_ptr<Recipe> make_recipe(const RecipeContext& context);

}  // namespace dcgan::train
