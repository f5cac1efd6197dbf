// FusedAdam over at::_fused_adam_, and the choice of optimizer (see optimizer.h).
#include "dcgan/train/optimizer.h"

#include <ATen/ops/_foreach_add.h>
#include <ATen/ops/_fused_adam.h>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan::train {

FusedAdam::FusedAdam(std::vector<torch::Tensor> params, torch::optim::AdamOptions options)
    : torch::optim::Adam(std::move(params), options) {}

torch::Tensor FusedAdam::step(LossClosure closure) {
  torch::Tensor loss;
  if (closure != nullptr) {
    torch::AutoGradMode enable_grad(true);
    loss = closure();
  }
  update(nullptr);
  return loss;
}

void FusedAdam::step_unless(const torch::Tensor& found_inf) { update(&found_inf); }

torch::Tensor& FusedAdam::device_step(const torch::Tensor& param, int64_t host_step) {
  auto [it, inserted] = steps_.try_emplace(param.unsafeGetTensorImpl());
  if (inserted) {
    it->second = torch::full({}, static_cast<double>(host_step),
                             torch::TensorOptions().dtype(torch::kFloat32).device(param.device()));
  }
  return it->second;
}

void FusedAdam::update(const torch::Tensor* found_inf) {
  torch::NoGradGuard no_grad;
  for (auto& group : param_groups_) {
    const auto& options = static_cast<const torch::optim::AdamOptions&>(group.options());
    std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps;
    for (const torch::Tensor& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = state_[p.unsafeGetTensorImpl()];
      if (slot == nullptr) {  // Adam's lazy initial state
        auto state = std::make_unique<torch::optim::AdamParamState>();
        state->step(0);
        state->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        state->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        if (options.amsgrad())
          state->max_exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(state);
      }
      auto& state = static_cast<torch::optim::AdamParamState&>(*slot);
      // The kernel walks the tensors' memory in step, so all must share the parameter's layout
      // (state loaded from a run with another --channels-last takes the parameter's once).
      auto same_layout = [&](const torch::Tensor& t) {
        return t.strides() == p.strides() ? t : torch::empty_like(p).copy_(t);
      };
      if (state.exp_avg().strides() != p.strides()) {
        state.exp_avg(same_layout(state.exp_avg()));
        state.exp_avg_sq(same_layout(state.exp_avg_sq()));
        if (options.amsgrad()) state.max_exp_avg_sq(same_layout(state.max_exp_avg_sq()));
      }
      params.push_back(p);
      grads.push_back(same_layout(p.grad()));
      exp_avgs.push_back(state.exp_avg());
      exp_avg_sqs.push_back(state.exp_avg_sq());
      if (options.amsgrad()) max_exp_avg_sqs.push_back(state.max_exp_avg_sq());
      steps.push_back(device_step(p, state.step()));
    }
    if (params.empty()) continue;
    // The caller advances the counters; under found_inf the kernel does nothing, so they advance
    // by 1 - found_inf.
    if (found_inf == nullptr) {
      at::_foreach_add_(steps, 1.0);
    } else {
      at::_foreach_add_(steps, 1.0 - *found_inf);
    }
    const auto [beta1, beta2] = options.betas();
    std::optional<torch::Tensor> flag;
    if (found_inf != nullptr) flag = *found_inf;
    at::_fused_adam_(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, options.lr(),
                     beta1, beta2, options.weight_decay(), options.eps(), options.amsgrad(),
                     /*maximize=*/false, /*grad_scale=*/std::nullopt, flag);
  }
}

void FusedAdam::sync_host_state() const {
  for (const auto& group : param_groups_) {
    for (const torch::Tensor& p : group.params()) {
      const auto state = state_.find(p.unsafeGetTensorImpl());
      const auto step = steps_.find(p.unsafeGetTensorImpl());
      if (state == state_.end() || step == steps_.end()) continue;
      static_cast<torch::optim::AdamParamState&>(*state->second)
          .step(static_cast<int64_t>(step->second.item<float>()));
    }
  }
}

void FusedAdam::save(torch::serialize::OutputArchive& archive) const {
  sync_host_state();
  torch::optim::Adam::save(archive);
}

void FusedAdam::load(torch::serialize::InputArchive& archive) {
  torch::optim::Adam::load(archive);
  steps_.clear();  // rebuilt from the loaded states at the next update
}

std::unique_ptr<torch::optim::Adam> make_adam(const std::string& kind,
                                              std::vector<torch::Tensor> params,
                                              const torch::optim::AdamOptions& options) {
  if (kind == "fused") return std::make_unique<FusedAdam>(std::move(params), options);
  if (kind == "torch") return std::make_unique<torch::optim::Adam>(std::move(params), options);
  throw UsageError(str("--optimizer: must be fused or torch, got '", kind, "'"));
}

void step_unless(torch::optim::Adam& optimizer, const torch::Tensor& found_inf) {
  if (auto* fused = dynamic_cast<FusedAdam*>(&optimizer)) {
    fused->step_unless(found_inf);
  } else if (found_inf.item<float>() == 0) {
    optimizer.step();
  }
}

void sync_host_state(const torch::optim::Adam& optimizer) {
  if (const auto* fused = dynamic_cast<const FusedAdam*>(&optimizer)) fused->sync_host_state();
}

}  // namespace dcgan::train
