// The shared non-finite guard of every step.
#include "dcgan/train/update_guard.h"

#include <cmath>

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"

namespace dcgan::train {

bool UpdateGuard::all_ranks_finite(bool finite_here) {
  if (comm_.world_size() == 1) return finite_here;
  torch::Tensor flag = torch::tensor({finite_here ? 0 : 1}, torch::kInt32);
  comm_.all_reduce(flag, distributed::ReduceOp::kMax);
  return flag.item<int32_t>() == 0;
}

void UpdateGuard::check_loss(const char* name, const torch::Tensor& value, int64_t step) const {
  if (!options_.check_each_phase) return;
  if (!std::isfinite(value.item<double>())) {
    throw Error(str("non-finite ", name, " = ", value.item<double>(), " at step ", step,
                    " HINT: lower --lr, check the data, or run with --detect-anomaly"));
  }
}

bool UpdateGuard::allow_update(const char* phase, const char* loss_name, const torch::Tensor& loss,
                               distributed::GradReducer& reducer, const PrefixedModules& modules,
                               int64_t step) {
  // One device->host sync per phase: the loss and every averaged gradient element at once.
  const bool finite_here =
      (torch::isfinite(loss).all() & torch::isfinite(reducer.flat()).all()).item<bool>();
  if (all_ranks_finite(finite_here)) return true;
  if (!options_.skip_non_finite) fail(phase, loss_name, loss, modules, step);
  log::warn(str("step ", step, ": non-finite loss or gradient in ", phase,
                "; update skipped on every rank (--on-nan skip)"));
  return false;
}

void UpdateGuard::fail(const char* phase, const char* loss_name, const torch::Tensor& loss,
                       const PrefixedModules& modules, int64_t step) {
  std::string tensor = "a gradient on another rank";
  if (!torch::isfinite(loss).all().item<bool>()) {
    tensor = str(loss_name, " = ", loss.item<double>());
  } else {
    bool found = false;
    for (const auto& [prefix, module] : modules) {
      for (const auto& item : module->named_parameters()) {
        const torch::Tensor& grad = item.value().grad();
        if (grad.defined() && !torch::isfinite(grad).all().item<bool>()) {
          tensor = str(phase, " gradient of ", prefix, item.key());
          found = true;
          break;
        }
      }
      if (found) break;
    }
  }
  throw Error(str("non-finite ", tensor, " at step ", step,
                  " HINT: lower --lr, check the data, or pass --on-nan skip to skip such updates"));
}

}  // namespace dcgan::train
