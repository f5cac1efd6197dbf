// GanStep: one DCGAN training step exactly as the PyTorch tutorial orders it, with the two
// cross-rank gradient averages of data-parallel training and the NaN/Inf guard.
#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/grad_reducer.h"
#include "dcgan/models/dcgan.h"

namespace dcgan::train {

struct StepOptions {
  double real_label = 1.0;
  bool skip_non_finite = false;   // --on-nan skip: skip the update on every rank instead of failing
  bool check_each_phase = false;  // --check-nan: check every loss and gradient, naming the tensor
};

// Indices into StepResult::stats.
enum StepStat : int64_t { kLossD = 0, kLossG, kDx, kDGz1, kDGz2, kNumStepStats };

struct StepResult {
  torch::Tensor stats;     // [kNumStepStats] float, on the training device (no host sync)
  bool skipped_d = false;  // D update skipped on every rank (non-finite, --on-nan skip)
  bool skipped_g = false;
};

class GanStep {
 public:
  // The reducers own the .grad buffers of G's and D's parameters (see GradReducer).
  GanStep(models::Generator generator, models::Discriminator discriminator,
          torch::optim::Adam& opt_g, torch::optim::Adam& opt_d, distributed::GradReducer& reducer_g,
          distributed::GradReducer& reducer_d, distributed::Communicator& comm,
          StepOptions options);

  // One step on this rank's `real` batch (float [-1, 1] NCHW on the training device) and latent
  // rows `z` [B, nz, 1, 1]. `step` (1-based) only names the step in errors.
  StepResult run(const torch::Tensor& real, const torch::Tensor& z, int64_t step);

 private:
  // True when every rank's flag is clear: one-int all-reduce so all ranks take the same branch.
  bool all_ranks_finite(bool finite_here);
  // Throws Error naming the step, the phase and the first non-finite tensor (or the loss).
  [[noreturn]] void fail_non_finite(const char* phase, const torch::Tensor& loss,
                                    torch::nn::Module& module, int64_t step);
  void check_loss(const char* name, const torch::Tensor& value, int64_t step);
  // Checks this phase's loss and averaged gradients; returns true to apply the update.
  bool guard_update(const char* phase, const torch::Tensor& loss, distributed::GradReducer& reducer,
                    torch::nn::Module& module, int64_t step);

  models::Generator g_;
  models::Discriminator d_;
  torch::optim::Adam& opt_g_;
  torch::optim::Adam& opt_d_;
  distributed::GradReducer& reducer_g_;
  distributed::GradReducer& reducer_d_;
  distributed::Communicator& comm_;
  StepOptions options_;
};

}  // namespace dcgan::train
