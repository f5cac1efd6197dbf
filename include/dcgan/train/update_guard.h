// UpdateGuard: the NaN/Inf guard every recipe's step shares. A phase's update is applied unless its
// averaged gradients, or a loss the step flagged on the reducer, are non-finite on some rank
// (GradReducer::non_finite, the same on every rank after the all-reduce). The decision is taken
// on the device (FusedAdam's found_inf), so a step makes no host read for it; the guard reads its
// counters on the host only in report(), which the Trainer calls every --sync-every steps and at
// log, sample and checkpoint points. No non-finite update is ever applied: --on-nan fail throws at
// that read, naming the first non-finite step; --on-nan skip logs the skipped updates.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "dcgan/distributed/grad_reducer.h"
#include "dcgan/train/step_options.h"

namespace dcgan::train {

class UpdateGuard {
 public:
  explicit UpdateGuard(const StepOptions& options) : options_(options) {}

  // --check-nan only: throws Error naming `name` and the step when `value` is not finite (a host
  // read per call: a debugging mode).
  void check_loss(const char* name, const torch::Tensor& value, int64_t step) const;

  // Applies `optimizer`'s update of `phase` (e.g. "D") after reducer.finalize(), unless the
  // reducer's round was non-finite; returns that flag (float32 scalar on the device, 1 = skipped
  // on every rank). `loss` (named `loss_name`) and `modules` (each name prefixed by its module's
  // prefix) only serve to name the culprit in report()'s error. Under --check-nan a non-finite
  // round throws here at once. Every phase's update is made once per step, so its step number is
  // counted on the device from the first `step` seen: nothing of `step` is baked into the work
  // after that, which lets a CUDA graph replay it.
  using PrefixedModules = std::vector<std::pair<std::string, torch::nn::Module*>>;
  torch::Tensor update(const char* phase, const char* loss_name, const torch::Tensor& loss,
                       distributed::GradReducer& reducer, torch::optim::Adam& optimizer,
                       const PrefixedModules& modules, int64_t step);

  // The host read, after step `step` (the same step on every rank). Throws Error naming the first
  // non-finite step and phase (and the tensor, when that step is `step`) unless --on-nan skip;
  // then it logs the updates skipped since the last read.
  void report(int64_t step);

 private:
  struct Phase {
    std::string name;
    std::string loss_name;
    PrefixedModules modules;
    torch::Tensor loss;       // of the last step
    torch::Tensor first_bad;  // int64 scalar on the device: first skipped step since the last read
    torch::Tensor skipped;    // int64 scalar on the device: updates skipped since the last read
    torch::Tensor updates;    // int64 scalar on the device: updates of this phase so far
  };
  Phase& phase(const char* name, const char* loss_name, const torch::Tensor& like);
  [[noreturn]] void fail(const Phase& phase, int64_t bad_step, int64_t step) const;

  StepOptions options_;
  std::vector<Phase> phases_;  // in order of first use
  int64_t base_step_ = -1;     // the step before the first update: step = base_step_ + updates
};

}  // namespace dcgan::train
