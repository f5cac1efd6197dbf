// The AE/VAE encoder on D's trunk, the reparameterisation and the closed-form KL.
#include "dcgan/models/autoencoder.h"

namespace dcgan::models {
namespace {

namespace nn = torch::nn;

nn::Conv2d head(int64_t width, int64_t nz) {
  return nn::Conv2d(nn::Conv2dOptions(width, nz, 4).stride(1).padding(0).bias(false));
}

}  // namespace

EncoderImpl::EncoderImpl(const NetOptions& options, bool variational) {
  int64_t width = 0;
  trunk_ = discriminator_trunk(options, &width);
  register_module("main", trunk_);
  mu_ = register_module("mu", head(width, options.nz));
  if (variational) logvar_ = register_module("logvar", head(width, options.nz));
}

Code EncoderImpl::encode(const torch::Tensor& images) {
  const torch::Tensor features = trunk_->forward(images);
  Code code;
  code.mu = mu_->forward(features);
  if (logvar_) code.logvar = logvar_->forward(features);
  return code;
}

torch::Tensor reparameterize(const torch::Tensor& mu, const torch::Tensor& logvar,
                             const torch::Tensor& eps) {
  return mu + torch::exp(0.5 * logvar) * eps;
}

torch::Tensor kl_to_standard_normal(const torch::Tensor& mu, const torch::Tensor& logvar) {
  const torch::Tensor terms = 1 + logvar - mu.pow(2) - logvar.exp();
  return -0.5 * terms.flatten(1).sum(1);
}

}  // namespace dcgan::models
