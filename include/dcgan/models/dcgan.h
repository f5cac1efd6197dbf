// DCGAN generator and discriminator of the PyTorch DCGAN tutorial, for 32, 64 and 128 pixels,
// and its weight init. Knows torch only: the norm layer comes from a factory, so the trainer can
// hand in a synchronised BatchNorm without the model knowing MPI.
#pragma once

#include <cstdint>
#include <functional>

#include <torch/torch.h>

namespace dcgan::models {

// Builds the norm layer after a conv with `channels` outputs. Default: torch::nn::BatchNorm2d.
using NormFactory = std::function<torch::nn::AnyModule(int64_t channels)>;

// The shape of the nets every model is built of: the DCGAN's generator and discriminator, and the
// AE/VAE's encoder (the discriminator's trunk) and decoder (the generator).
struct NetOptions {
  int64_t nz = 100;         // latent size
  int64_t ngf = 64;         // generator feature maps
  int64_t ndf = 64;         // discriminator feature maps
  int64_t channels = 3;     // image channels (nc)
  int64_t image_size = 64;  // 32, 64 or 128
  NormFactory norm;         // empty: BatchNorm2d
};

// ConvT(nz->8ngf,4,1,0) BN ReLU, ConvT(->4ngf) BN ReLU, ConvT(->2ngf) BN ReLU, ConvT(->ngf) BN
// ReLU, ConvT(ngf->nc,4,2,1) Tanh at 64; 32 drops one middle block, 128 adds one. Bias-free convs.
// forward: z [B, nz, 1, 1] -> images [B, nc, S, S] in [-1, 1].
class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(const NetOptions& options);
  torch::Tensor forward(const torch::Tensor& z);

 private:
  torch::nn::Sequential net_{nullptr};
};
TORCH_MODULE(Generator);

// Conv(nc->ndf,4,2,1) LReLU(0.2), Conv(->2ndf) BN LReLU, Conv(->4ndf) BN LReLU,
// Conv(->8ndf) BN LReLU, Conv(8ndf->1,4,1,0) Sigmoid at 64; 32 drops a block, 128 adds one.
// forward: images [B, nc, S, S] -> probabilities [B], the tutorial's output. logits: the same
// without the final Sigmoid (which has no parameters, so the names stay the tutorial's), for
// BCE-with-logits training: forward(x) == sigmoid(logits(x)).
class DiscriminatorImpl : public torch::nn::Module {
 public:
  explicit DiscriminatorImpl(const NetOptions& options);
  torch::Tensor forward(const torch::Tensor& images);
  torch::Tensor logits(const torch::Tensor& images);

 private:
  torch::nn::Sequential net_{nullptr};
};
TORCH_MODULE(Discriminator);

// D's convolutional trunk, everything before its last conv: Conv(nc->ndf,4,2,1) LReLU(0.2), then
// Conv BN LReLU blocks, [B, nc, S, S] -> [B, width, 4, 4]; `width` receives the last width. The
// AE/VAE encoder is built on it.
torch::nn::Sequential discriminator_trunk(const NetOptions& options, int64_t* width);

// The tutorial's weights_init, in module order: conv weights N(0, 0.02); norm weights N(1, 0.02),
// norm biases 0. Uses the current default torch generator (seed it first).
void init_weights(torch::nn::Module& module);

// Floating-point operations (2 per multiply-add) of the convolutions of one forward pass of
// `module` for one image, whose convolutions form a chain (as G's and D's do), starting from a
// square input of side `side`. The benchmark's FLOP floor; norms and activations are not counted.
double conv_chain_flops(torch::nn::Module& module, int64_t side);

// Throws UsageError unless size is 32, 64 or 128.
void validate_options(const NetOptions& options);

}  // namespace dcgan::models
