// The shared non-finite guard of every step.
#include "dcgan/train/update_guard.h"

#include <cmath>

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "dcgan/train/optimizer.h"

namespace dcgan::train {
namespace {

// A loss value for an error line: NaN as "nan" whatever its sign bit.
std::string value_text(double value) { return std::isnan(value) ? "nan" : str(value); }

}  // namespace

void UpdateGuard::check_loss(const char* name, const torch::Tensor& value, int64_t step) const {
  if (!options_.check_each_phase) return;
  if (!std::isfinite(value.item<double>())) {
    throw Error(str("non-finite ", name, " = ", value_text(value.item<double>()), " at step ", step,
                    " HINT: lower --lr, check the data, or run with --detect-anomaly"));
  }
}

UpdateGuard::Phase& UpdateGuard::phase(const char* name, const char* loss_name,
                                       const torch::Tensor& like) {
  for (Phase& p : phases_) {
    if (p.name == name) return p;
  }
  Phase p;
  p.name = name;
  p.loss_name = loss_name;
  const auto counter = torch::TensorOptions().dtype(torch::kInt64).device(like.device());
  p.first_bad = torch::zeros({}, counter);
  p.skipped = torch::zeros({}, counter);
  p.updates = torch::zeros({}, counter);
  phases_.push_back(std::move(p));
  return phases_.back();
}

torch::Tensor UpdateGuard::update(const char* phase_name, const char* loss_name,
                                  const torch::Tensor& loss, distributed::GradReducer& reducer,
                                  torch::optim::Adam& optimizer, const PrefixedModules& modules,
                                  int64_t step) {
  Phase& p = phase(phase_name, loss_name, loss);
  if (base_step_ < 0) base_step_ = step - 1;
  p.modules = modules;
  p.loss = loss.detach();
  const torch::Tensor found = reducer.non_finite();
  if (options_.check_each_phase && found.item<float>() != 0) fail(p, step, step);
  step_unless(optimizer, found);
  // Every counter is updated in place and the step number is counted on the device (base_step_ +
  // updates), so a captured CUDA graph that replays this keeps counting the right steps.
  const torch::Tensor bad = found.to(torch::kInt64);
  p.updates.add_(1);
  p.first_bad.copy_(
      torch::where((p.first_bad == 0) & (bad != 0), p.updates + base_step_, p.first_bad));
  p.skipped.add_(bad);
  return found;
}

void UpdateGuard::report(int64_t step) {
  if (phases_.empty()) return;
  std::vector<torch::Tensor> counters;
  for (const Phase& p : phases_) {
    counters.push_back(p.first_bad);
    counters.push_back(p.skipped);
  }
  const torch::Tensor host = torch::stack(counters).to(torch::kCPU);  // the one host read
  const auto values = host.accessor<int64_t, 1>();
  auto first_bad = [&](size_t i) { return values[static_cast<int64_t>(2 * i)]; };
  auto skipped = [&](size_t i) { return values[static_cast<int64_t>(2 * i + 1)]; };
  if (!options_.skip_non_finite) {  // fail on the earliest non-finite step of any phase
    const Phase* earliest = nullptr;
    int64_t earliest_step = 0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      if (skipped(i) == 0 || (earliest != nullptr && first_bad(i) >= earliest_step)) continue;
      earliest = &phases_[i];
      earliest_step = first_bad(i);
    }
    if (earliest != nullptr) fail(*earliest, earliest_step, step);
    return;
  }
  for (size_t i = 0; i < phases_.size(); ++i) {
    if (skipped(i) == 0) continue;
    Phase& p = phases_[i];
    log::warn(str("step ", step, ": ", skipped(i), " update", skipped(i) == 1 ? "" : "s", " of ",
                  p.name, " skipped on every rank since the last check (first at step ",
                  first_bad(i), "): non-finite loss or gradient (--on-nan skip)"));
    p.first_bad.zero_();
    p.skipped.zero_();
  }
}

void UpdateGuard::fail(const Phase& p, int64_t bad_step, int64_t step) const {
  // The culprit can be named only while the bad step's loss and gradients are still at hand.
  std::string tensor = str("loss or gradient in ", p.name);
  if (bad_step == step) {
    tensor = str("gradient of ", p.name, " on another rank");
    if (!torch::isfinite(p.loss).all().item<bool>()) {
      tensor = str(p.loss_name, " = ", value_text(p.loss.item<double>()));
    } else {
      bool found = false;
      for (const auto& [prefix, module] : p.modules) {
        for (const auto& item : module->named_parameters()) {
          const torch::Tensor& grad = item.value().grad();
          if (grad.defined() && !torch::isfinite(grad).all().item<bool>()) {
            tensor = str(p.name, " gradient of ", prefix, item.key());
            found = true;
            break;
          }
        }
        if (found) break;
      }
    }
  }
  throw Error(str("non-finite ", tensor, " at step ", bad_step,
                  bad_step == step ? "" : str(" (seen at the check after step ", step, ")"),
                  "; the update was not applied HINT: lower --lr, check the data, or pass "
                  "--on-nan skip to skip such updates"));
}

}  // namespace dcgan::train
