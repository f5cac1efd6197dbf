// GanStep: one DCGAN training step exactly as the PyTorch tutorial orders it, with the two
// cross-rank gradient averages of data-parallel training and the NaN/Inf guard. The DCGAN recipe
// (recipe.h) runs it.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "dcgan/distributed/grad_reducer.h"
#include "dcgan/models/dcgan.h"
#include "dcgan/train/recipe.h"
#include "dcgan/train/step_options.h"
#include "dcgan/train/update_guard.h"

namespace dcgan::train {

// Indices into StepResult::stats of the GAN step.
enum StepStat : int64_t { kLossD = 0, kLossG, kDx, kDGz1, kDGz2, kNumStepStats };

class GanStep {
 public:
  // The reducers own the .grad buffers of G's and D's parameters (see GradReducer).
  GanStep(models::Generator generator, models::Discriminator discriminator,
          torch::optim::Adam& opt_g, torch::optim::Adam& opt_d, distributed::GradReducer& reducer_g,
          distributed::GradReducer& reducer_d, StepOptions options);

  // One step on this rank's `real` batch (float [-1, 1] NCHW on the training device) and latent
  // rows `z` [B, nz, 1, 1]. `step` (1-based) only names the step in errors.
  StepResult run(const torch::Tensor& real, const torch::Tensor& z, int64_t step);

  // The guard's host read after `step` (see UpdateGuard::report).
  void report(int64_t step) { guard_.report(step); }

 private:
  models::Generator g_;
  models::Discriminator d_;
  torch::optim::Adam& opt_g_;
  torch::optim::Adam& opt_d_;
  distributed::GradReducer& reducer_g_;
  distributed::GradReducer& reducer_d_;
  StepOptions options_;
  UpdateGuard guard_;
};

}  // namespace dcgan::train
