// The encoder of the autoencoder and the VAE: the DCGAN discriminator's convolutional trunk for
// the image size, ending in a 4x4 conv head that outputs the code [B, nz, 1, 1] (the VAE has two
// heads, mu and log sigma^2). The decoder of both is the DCGAN Generator. Knows torch only.
#pragma once

#include <torch/torch.h>

#include "dcgan/models/dcgan.h"

namespace dcgan::models {

// The encoder's output: `mu` is the code (the AE's only output); `logvar` (log sigma^2) is defined
// for the variational encoder only.
struct Code {
  torch::Tensor mu;      // [B, nz, 1, 1]
  torch::Tensor logvar;  // [B, nz, 1, 1] or undefined
};

// main: D's trunk (Conv LReLU, then Conv BN LReLU blocks) -> [B, width, 4, 4];
// mu (and logvar): Conv(width -> nz, 4, 1, 0), bias-free like D's last conv.
// Parameter names: main.N.*, mu.weight, logvar.weight.
class EncoderImpl : public torch::nn::Module {
 public:
  EncoderImpl(const NetOptions& options, bool variational);
  Code encode(const torch::Tensor& images);
  torch::Tensor forward(const torch::Tensor& images) { return encode(images).mu; }
  bool variational() const { return !logvar_.is_empty(); }

 private:
  torch::nn::Sequential trunk_{nullptr};
  torch::nn::Conv2d mu_{nullptr};
  torch::nn::Conv2d logvar_{nullptr};
};
TORCH_MODULE(Encoder);

// z = mu + exp(logvar / 2) * eps: differentiable in mu and logvar, eps drawn by the caller.
torch::Tensor reparameterize(const torch::Tensor& mu, const torch::Tensor& logvar,
                             const torch::Tensor& eps);

// KL(N(mu, sigma^2) || N(0, 1)) per sample: -1/2 sum over the code of
// (1 + logvar - mu^2 - exp(logvar)). [B, ...] -> [B].
torch::Tensor kl_to_standard_normal(const torch::Tensor& mu, const torch::Tensor& logvar);

}  // namespace dcgan::models
