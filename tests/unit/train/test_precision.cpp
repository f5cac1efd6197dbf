// --precision and --channels-last: the autocast scope, the memory format of modules and batches,
// and the GAN step under bf16 autocast and channels-last against the fp32 NCHW step.
#include <gtest/gtest.h>

#include <ATen/autocast_mode.h>

#include "dcgan/common/errors.h"
#include "dcgan/train/precision.h"
#include "unit/train/train_fixtures.h"

namespace dcgan::test {
namespace {

using train::AutocastScope;

TEST(Precision, AutocastScopeRunsConvolutionsInBf16AndRestores) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 4, 3));
  const torch::Tensor x = torch::randn({2, 3, 8, 8});
  {
    AutocastScope outer(true, torch::kCPU);
    EXPECT_EQ(conv->forward(x).scalar_type(), torch::kBFloat16);
    {
      AutocastScope inner(true, torch::kCPU);
      EXPECT_EQ(conv->forward(x).scalar_type(), torch::kBFloat16);
    }
    EXPECT_TRUE(at::autocast::is_autocast_enabled(torch::kCPU)) << "the inner scope ended it";
  }
  EXPECT_FALSE(at::autocast::is_autocast_enabled(torch::kCPU));
  EXPECT_EQ(conv->forward(x).scalar_type(), torch::kFloat32);
  AutocastScope off(false, torch::kCPU);
  EXPECT_EQ(conv->forward(x).scalar_type(), torch::kFloat32);
}

TEST(Precision, ParsePrecisionNamesTheOption) {
  EXPECT_EQ(train::parse_precision("bf16"), train::Precision::kBf16);
  EXPECT_EQ(train::parse_precision("tf32"), train::Precision::kTf32);
  try {
    train::parse_precision("fp16");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--precision must be fp32, tf32 or bf16, got 'fp16'");
  }
}

// Channels-last keeps each parameter's identity (the optimizer and the gradient reducer hold
// them), and the reducer re-points the gradient views with the new strides.
TEST(Precision, ChannelsLastKeepsParametersAndGradientViews) {
  TinyGan gan(/*seed=*/5);
  const torch::Tensor w = gan.d->parameters()[0];
  const void* impl = w.unsafeGetTensorImpl();
  const torch::Tensor before = w.detach().clone();
  train::set_memory_format(*gan.d, at::MemoryFormat::ChannelsLast);
  EXPECT_EQ(gan.d->parameters()[0].unsafeGetTensorImpl(), impl);
  EXPECT_TRUE(w.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_FALSE(w.is_contiguous());
  EXPECT_TRUE(w.equal(before)) << "the values are unchanged";
  gan.reducer_d->zero_grad();
  EXPECT_EQ(w.grad().strides(), w.strides());
  const auto* flat = static_cast<const char*>(gan.reducer_d->flat().data_ptr());
  const auto* grad = static_cast<const char*>(w.grad().data_ptr());
  EXPECT_TRUE(grad >= flat && grad < flat + gan.reducer_d->flat().nbytes());
}

// One step of the same nets on the same inputs: channels-last fp32 agrees with NCHW fp32 within
// float noise; bf16 autocast (+ channels-last) keeps float32 parameters and gradients, and its
// losses and D outputs agree within bf16's ~3 significant digits.
TEST(Precision, Bf16AndChannelsLastStepsAgreeWithFp32) {
  torch::manual_seed(31);
  const torch::Tensor real = torch::rand({8, 3, 32, 32}) * 2 - 1;
  const torch::Tensor z = torch::randn({8, 16, 1, 1});
  auto run = [&](bool bf16, bool channels_last) {
    train::StepOptions options;
    options.bf16 = bf16;
    auto gan = std::make_unique<TinyGan>(/*seed=*/9, 2e-4, 8, options);
    const auto format = train::memory_format(channels_last);
    train::set_memory_format(*gan->g, format);
    train::set_memory_format(*gan->d, format);
    const torch::Tensor stats = gan->step->run(real.contiguous(format), z, 1).stats;
    return std::make_pair(std::move(gan), stats);
  };
  const auto [fp32, fp32_stats] = run(false, false);
  const auto [cl, cl_stats] = run(false, true);
  const auto [bf16, bf16_stats] = run(true, true);
  EXPECT_TRUE(torch::allclose(cl_stats, fp32_stats, 1e-5, 1e-6)) << cl_stats << fp32_stats;
  const auto cl_params = cl->d->parameters();
  const auto fp32_params = fp32->d->parameters();
  for (size_t i = 0; i < fp32_params.size(); ++i)
    EXPECT_TRUE(torch::allclose(cl_params[i], fp32_params[i], 1e-5, 1e-6)) << "D parameter " << i;
  EXPECT_EQ(bf16_stats.scalar_type(), torch::kFloat32);
  EXPECT_LE((bf16_stats - fp32_stats).abs().max().item<double>(), 2e-2) << bf16_stats << fp32_stats;
  EXPECT_FALSE(bf16_stats.equal(fp32_stats)) << "bf16 must have run in bf16";
  for (const auto& p : bf16->g->parameters()) {
    EXPECT_EQ(p.scalar_type(), torch::kFloat32);
    EXPECT_EQ(p.grad().scalar_type(), torch::kFloat32);
  }
}

}  // namespace
}  // namespace dcgan::test
