// UpdateGuard: the NaN/Inf guard every recipe's step shares. Before an optimizer step it checks the
// phase's loss and averaged gradients with one device->host read, agrees across ranks (one-int
// max all-reduce, so every rank takes the same branch), and either fails naming the step, the
// phase and the first non-finite tensor, or (--on-nan skip) skips the update on every rank.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/grad_reducer.h"

namespace dcgan::train {

struct StepOptions {
  double real_label = 1.0;        // the GAN's target of real images
  bool skip_non_finite = false;   // --on-nan skip: skip the update on every rank instead of failing
  bool check_each_phase = false;  // --check-nan: check every loss and gradient, naming the tensor
  double beta = 1.0;              // the VAE's KL weight
};

class UpdateGuard {
 public:
  UpdateGuard(distributed::Communicator& comm, const StepOptions& options)
      : comm_(comm), options_(options) {}

  // --check-nan only: throws Error naming `name` and the step when `value` is not finite.
  void check_loss(const char* name, const torch::Tensor& value, int64_t step) const;

  // True to apply the update of `phase` (e.g. "D"): `loss` (named `loss_name` in errors) and the
  // reducer's averaged gradients are finite on every rank. Otherwise throws Error naming the
  // first non-finite tensor among `modules`' gradients (each name prefixed by its module's
  // prefix), or returns false under --on-nan skip.
  using PrefixedModules = std::vector<std::pair<std::string, torch::nn::Module*>>;
  bool allow_update(const char* phase, const char* loss_name, const torch::Tensor& loss,
                    distributed::GradReducer& reducer, const PrefixedModules& modules,
                    int64_t step);

 private:
  bool all_ranks_finite(bool finite_here);
  [[noreturn]] void fail(const char* phase, const char* loss_name, const torch::Tensor& loss,
                         const PrefixedModules& modules, int64_t step);

  distributed::Communicator& comm_;
  StepOptions options_;
};

}  // namespace dcgan::train
