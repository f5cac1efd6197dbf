// The optimizers of a run. --optimizer torch is libtorch's torch::optim::Adam, a loop over the
// parameters with the bias corrections worked out on the host. --optimizer fused (the default) is
// FusedAdam: the same update through at::_fused_adam_, one call over a group's parameters, with
// each parameter's step counter held on the parameters' device, and a device-side skip flag
// (found_inf) so that a non-finite step is skipped on the device, with no host read.
//
// FusedAdam is a torch::optim::Adam and saves the same state (step, exp_avg, exp_avg_sq per
// parameter), so either optimizer resumes the other's checkpoints.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace dcgan::train {

class FusedAdam final : public torch::optim::Adam {
 public:
  FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options);

  // One update of every parameter that has a gradient.
  torch::Tensor step(LossClosure closure = nullptr) override;
  // The update, unless `found_inf` (a float32 scalar on the parameters' device, 0 or 1) is 1:
  // then nothing changes, the step counters included. The counters advance by 1 - found_inf.
  void step_unless(const torch::Tensor& found_inf);

  // Writes the device step counters into each parameter's AdamParamState (host), which
  // torch::optim::Adam's accessors and archive read.
  void sync_host_state() const;
  // Adam's archive, after sync_host_state().
  void save(torch::serialize::OutputArchive& archive) const override;
  // Adam's archive, then the device step counters from each parameter's state.
  void load(torch::serialize::InputArchive& archive) override;

 private:
  void update(const torch::Tensor* found_inf);
  torch::Tensor& device_step(const torch::Tensor& param, int64_t host_step);

  // Per parameter (by TensorImpl): its step count, float32 on its device (the kernel's input).
  std::unordered_map<const void*, torch::Tensor> steps_;
};

// "fused" (FusedAdam) or "torch" (torch::optim::Adam). Throws UsageError naming --optimizer
// otherwise.
std::unique_ptr<torch::optim::Adam> make_adam(const std::string& kind,
                                              std::vector<torch::Tensor> params,
                                              const torch::optim::AdamOptions& options);

// Applies the update unless `found_inf` (float32 scalar on the device, 0 or 1) is 1. FusedAdam
// decides on the device; libtorch's Adam needs a host read of the flag.
void step_unless(torch::optim::Adam& optimizer, const torch::Tensor& found_inf);

// Makes optimizer.state() current (FusedAdam::sync_host_state; nothing for libtorch's Adam).
void sync_host_state(const torch::optim::Adam& optimizer);

}  // namespace dcgan::train
