// The generator EMA of StyleGAN (G_ema): an exponential moving average of a module's weights,
// updated after every step. Each parameter becomes beta * ema + (1 - beta) * current, with
// beta = 0.5^(global batch / (halflife_kimg * 1000)): after halflife_kimg thousand training images
// an old weight's share has halved. Buffers (BN running statistics) are copied, not averaged, as
// StyleGAN does. Off by default, so the tutorial stays exact.
#pragma once

#include <cstdint>
#include <memory>

#include <torch/torch.h>

namespace dcgan::train {

// 0.5^(global_batch / (halflife_kimg * 1000)).
double ema_beta(double halflife_kimg, int64_t global_batch);

class ModuleEma {
 public:
  // `ema` must have `source`'s parameter and buffer shapes, in the same order; it is set to
  // `source`'s values, put in eval mode and excluded from autograd.
  ModuleEma(std::shared_ptr<torch::nn::Module> source, std::shared_ptr<torch::nn::Module> ema,
            double halflife_kimg, int64_t global_batch);
  // After the source's update: one fused lerp over the parameters, a copy of the buffers. On the
  // device, without host reads (a CUDA graph captures it with the step).
  void update();
  // The average restarted at the source's current weights (after --init-from).
  void reset();
  double beta() const { return beta_; }
  const std::shared_ptr<torch::nn::Module>& module() const { return ema_; }

 private:
  std::shared_ptr<torch::nn::Module> source_;
  std::shared_ptr<torch::nn::Module> ema_;
  double beta_;
};

}  // namespace dcgan::train
