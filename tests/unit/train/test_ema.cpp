// The generator EMA: beta is the half-life, an update is the lerp with the buffers copied, and a
// run with --ema-halflife-kimg resumes bit-identically (the EMA included); without the flag the
// modules are the tutorial's two.
#include <gtest/gtest.h>

#include <cmath>

#include "dcgan/models/dcgan.h"
#include "dcgan/train/ema.h"

namespace dcgan::train {
namespace {

models::Generator small_generator() {
  models::NetOptions o;
  o.nz = 8;
  o.ngf = 4;
  o.channels = 1;
  o.image_size = 32;
  return models::Generator(o);
}

TEST(Ema, BetaHalvesAnOldWeightAfterTheHalfLife) {
  const double beta = ema_beta(10.0, 64);
  EXPECT_DOUBLE_EQ(beta, std::pow(0.5, 64.0 / 10000.0));
  EXPECT_NEAR(std::pow(beta, 10000.0 / 64.0), 0.5, 1e-12);  // 156.25 steps of 64 images
}

TEST(Ema, StartsAtTheSourceThenLerpsTheParametersAndCopiesTheBuffers) {
  torch::manual_seed(1);
  models::Generator g = small_generator(), e = small_generator();
  models::init_weights(*g);
  models::init_weights(*e);  // other values: the constructor must overwrite them
  ModuleEma ema(g.ptr(), e.ptr(), 1.0, 100);
  for (size_t i = 0; i < g->parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(e->parameters()[i], g->parameters()[i])) << i;
  EXPECT_FALSE(e->is_training());
  EXPECT_FALSE(e->parameters()[0].requires_grad());
  std::vector<torch::Tensor> before;
  for (const auto& p : g->parameters()) before.push_back(p.detach().clone());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : g->parameters()) p.add_(torch::randn_like(p));
    for (auto& b : g->buffers())
      if (b.is_floating_point()) b.add_(1.5);
  }
  ema.update();
  const double beta = ema.beta();
  EXPECT_DOUBLE_EQ(beta, std::pow(0.5, 0.1));
  for (size_t i = 0; i < before.size(); ++i) {
    const torch::Tensor want = beta * before[i] + (1 - beta) * g->parameters()[i].detach();
    EXPECT_TRUE(torch::allclose(e->parameters()[i], want, 1e-6, 1e-7)) << i;
  }
  for (size_t i = 0; i < g->buffers().size(); ++i)
    EXPECT_TRUE(torch::equal(e->buffers()[i], g->buffers()[i])) << i;
  ema.reset();
  for (size_t i = 0; i < g->parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(e->parameters()[i], g->parameters()[i])) << i;
}

}  // namespace
}  // namespace dcgan::train
