// FusedAdam (at::_fused_adam_) against libtorch's torch::optim::Adam: the same trajectory within
// 1e-6 relative, the device-side skip, and checkpoints that either optimizer resumes.
#include <gtest/gtest.h>

#include <sstream>

#include <torch/torch.h>

#include "dcgan/common/errors.h"
#include "dcgan/train/fingerprint.h"
#include "dcgan/train/optimizer.h"

namespace dcgan::train {
namespace {

// Three parameters like a conv weight, a BN weight and a BN bias, initialised as the models are.
std::vector<torch::Tensor> make_params(uint64_t seed) {
  torch::manual_seed(seed);
  return {(torch::randn({16, 8, 4, 4}) * 0.02).requires_grad_(true),
          (1 + torch::randn({16}) * 0.02).requires_grad_(true),
          torch::zeros({16}).requires_grad_(true)};
}

// The gradient of step k, the same for both optimizers (a fresh draw per step and parameter).
void set_grads(const std::vector<torch::Tensor>& params, int64_t k) {
  torch::manual_seed(static_cast<uint64_t>(1000 + k));
  for (const auto& p : params) p.mutable_grad() = torch::randn_like(p) * 0.1;
}

torch::optim::AdamOptions options() { return torch::optim::AdamOptions(2e-4).betas({0.5, 0.999}); }

// max |a - b| / max |b| over the tensor: 0 for equal tensors.
double relative_gap(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max()).item<double>();
}

const torch::optim::AdamParamState& state_of(torch::optim::Adam& opt, const torch::Tensor& p) {
  sync_host_state(opt);
  return static_cast<const torch::optim::AdamParamState&>(*opt.state().at(p.unsafeGetTensorImpl()));
}

void expect_same_trajectory(torch::optim::Adam& a, const std::vector<torch::Tensor>& pa,
                            torch::optim::Adam& b, const std::vector<torch::Tensor>& pb,
                            int64_t steps) {
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_LE(relative_gap(pa[i], pb[i]), 1e-6) << "parameter " << i;
    const auto& sa = state_of(a, pa[i]);
    const auto& sb = state_of(b, pb[i]);
    EXPECT_EQ(sa.step(), steps) << "parameter " << i;
    EXPECT_EQ(sb.step(), steps) << "parameter " << i;
    EXPECT_LE(relative_gap(sa.exp_avg(), sb.exp_avg()), 1e-6) << "exp_avg " << i;
    EXPECT_LE(relative_gap(sa.exp_avg_sq(), sb.exp_avg_sq()), 1e-6) << "exp_avg_sq " << i;
  }
}

TEST(FusedAdam, MatchesTorchAdamAfter20Steps) {
  const auto pf = make_params(7);
  const auto pt = make_params(7);
  FusedAdam fused(pf, options());
  torch::optim::Adam reference(pt, options());
  const torch::Tensor before = pf[0].detach().clone();
  for (int64_t k = 1; k <= 20; ++k) {
    set_grads(pf, k);
    set_grads(pt, k);
    fused.step();
    reference.step();
  }
  expect_same_trajectory(fused, pf, reference, pt, 20);
  // The update moved the weights by many times the tolerance: the comparison has teeth.
  EXPECT_GT(relative_gap(pf[0], before), 1e-3);
}

// found_inf = 1 leaves parameters, moments and the step counter as they were; the run then goes on
// as the reference that never saw that step.
TEST(FusedAdam, FoundInfSkipsTheUpdateOnTheDevice) {
  const auto pf = make_params(3);
  const auto pt = make_params(3);
  FusedAdam fused(pf, options());
  torch::optim::Adam reference(pt, options());
  const torch::Tensor skip = torch::ones({});
  const torch::Tensor apply = torch::zeros({});
  for (int64_t k = 1; k <= 6; ++k) {
    set_grads(pf, k);
    set_grads(pt, k);
    if (k == 3) {
      const torch::Tensor p0 = pf[0].detach().clone();
      const torch::Tensor m0 = state_of(fused, pf[0]).exp_avg().clone();
      step_unless(fused, skip);
      EXPECT_TRUE(pf[0].equal(p0));
      EXPECT_TRUE(state_of(fused, pf[0]).exp_avg().equal(m0));
      EXPECT_EQ(state_of(fused, pf[0]).step(), 2);
      continue;
    }
    step_unless(fused, apply);
    step_unless(reference, apply);
  }
  expect_same_trajectory(fused, pf, reference, pt, 5);
}

// A checkpoint of either optimizer resumes in the other (the same archive layout), and the
// fingerprint (which checkpoints verify) sees the fused optimizer's device step counters.
TEST(FusedAdam, CheckpointsResumeInEitherOptimizer) {
  for (const bool fused_first : {true, false}) {
    const auto pa = make_params(11);
    const auto pb = make_params(11);
    auto first = make_adam(fused_first ? "fused" : "torch", pa, options());
    for (int64_t k = 1; k <= 5; ++k) {
      set_grads(pa, k);
      first->step();
    }
    std::stringstream archive;
    torch::save(*first, archive);
    for (size_t i = 0; i < pa.size(); ++i) pb[i].detach().copy_(pa[i].detach());
    auto second = make_adam(fused_first ? "torch" : "fused", pb, options());
    torch::load(*second, archive);
    EXPECT_EQ(optimizer_fingerprint(*first), optimizer_fingerprint(*second))
        << (fused_first ? "fused -> torch" : "torch -> fused");
    for (int64_t k = 6; k <= 10; ++k) {
      set_grads(pa, k);
      set_grads(pb, k);
      first->step();
      second->step();
    }
    expect_same_trajectory(*first, pa, *second, pb, 10);
  }
}

TEST(FusedAdam, MakeAdamRefusesAnUnknownKind) {
  try {
    make_adam("sgd", make_params(1), options());
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--optimizer: must be fused or torch, got 'sgd'");
  }
}

}  // namespace
}  // namespace dcgan::train
