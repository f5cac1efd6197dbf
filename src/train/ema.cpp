// The generator EMA.
#include "dcgan/train/ema.h"

#include <cmath>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan::train {

double ema_beta(double halflife_kimg, int64_t global_batch) {
  return std::pow(0.5, static_cast<double>(global_batch) / (halflife_kimg * 1000.0));
}

ModuleEma::ModuleEma(std::shared_ptr<torch::nn::Module> source,
                     std::shared_ptr<torch::nn::Module> ema, double halflife_kimg,
                     int64_t global_batch)
    : source_(std::move(source)),
      ema_(std::move(ema)),
      beta_(ema_beta(halflife_kimg, global_batch)) {
  const auto a = source_->parameters(), b = ema_->parameters();
  if (a.size() != b.size()) throw Error("ModuleEma: the EMA module has other parameters");
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].sizes() != b[i].sizes())
      throw Error(dcgan::str("ModuleEma: parameter ", i, " has shape ", b[i].sizes(), ", not ",
                             a[i].sizes()));
  }
  for (auto& p : ema_->parameters()) p.requires_grad_(false);
  ema_->eval();
  reset();
}

void ModuleEma::update() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> ema = ema_->parameters(), current = source_->parameters();
  torch::_foreach_lerp_(ema, current, 1.0 - beta_);  // ema + (1 - beta) (current - ema)
  std::vector<torch::Tensor> ema_buffers = ema_->buffers(), buffers = source_->buffers();
  for (size_t i = 0; i < buffers.size(); ++i) ema_buffers[i].copy_(buffers[i]);
}

void ModuleEma::reset() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> ema = ema_->parameters(), current = source_->parameters();
  for (size_t i = 0; i < current.size(); ++i) ema[i].copy_(current[i]);
  std::vector<torch::Tensor> ema_buffers = ema_->buffers(), buffers = source_->buffers();
  for (size_t i = 0; i < buffers.size(); ++i) ema_buffers[i].copy_(buffers[i]);
}

}  // namespace dcgan::train
