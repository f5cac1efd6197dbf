// DCGAN generator and discriminator of the PyTorch DCGAN tutorial, generalised to 32/64/128 by
// the number of stride-2 middle blocks, and the tutorial's weights_init.
#include "dcgan/models/dcgan.h"

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan::models {
namespace {

namespace nn = torch::nn;

// Stride-2 blocks between the 4x4 stem and the last layer: 64 -> 3 (the tutorial), 32 -> 2,
// 128 -> 4. The widest layer is 2^blocks times ngf/ndf.
int64_t middle_blocks(int64_t image_size) {
  switch (image_size) {
    case 32:
      return 2;
    case 64:
      return 3;
    case 128:
      return 4;
    default:
      throw UsageError(str("image size ", image_size, " is not supported; use 32, 64 or 128"));
  }
}

nn::AnyModule make_norm(const NetOptions& options, int64_t channels) {
  if (options.norm) return options.norm(channels);
  return nn::AnyModule(nn::BatchNorm2d(channels));
}

nn::ConvTranspose2d conv_t(int64_t in, int64_t out, int64_t stride, int64_t padding) {
  return nn::ConvTranspose2d(
      nn::ConvTranspose2dOptions(in, out, 4).stride(stride).padding(padding).bias(false));
}

nn::Conv2d conv(int64_t in, int64_t out, int64_t stride, int64_t padding) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 4).stride(stride).padding(padding).bias(false));
}

// Norm weights are the only 1-D `weight` parameters in these nets and conv weights the only 4-D
// ones, so this finds them whatever norm module the factory supplied (BatchNorm, sync-BN, ...).
void init_module(nn::Module& module) {
  torch::NoGradGuard no_grad;
  auto params = module.named_parameters(/*recurse=*/false);
  auto* weight = params.find("weight");
  if (weight == nullptr) return;
  if (weight->dim() == 4) {
    weight->normal_(0.0, 0.02);
  } else if (weight->dim() == 1) {
    weight->normal_(1.0, 0.02);
    if (auto* bias = params.find("bias")) bias->zero_();
  }
}

}  // namespace

void validate_options(const NetOptions& options) {
  middle_blocks(options.image_size);
  const std::pair<const char*, int64_t> positive[] = {{"nz", options.nz},
                                                      {"ngf", options.ngf},
                                                      {"ndf", options.ndf},
                                                      {"channels", options.channels}};
  for (const auto& [name, value] : positive) {
    if (value <= 0) throw UsageError(str(name, " must be positive, got ", value));
  }
}

GeneratorImpl::GeneratorImpl(const NetOptions& options) {
  validate_options(options);
  const int64_t blocks = middle_blocks(options.image_size);
  int64_t width = options.ngf << blocks;
  net_ = nn::Sequential();
  // Stem: z [B, nz, 1, 1] -> [B, width, 4, 4].
  net_->push_back(conv_t(options.nz, width, 1, 0));
  net_->push_back(make_norm(options, width));
  net_->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
  for (int64_t i = 0; i < blocks; ++i) {  // each doubles the side and halves the width
    net_->push_back(conv_t(width, width / 2, 2, 1));
    net_->push_back(make_norm(options, width / 2));
    net_->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
    width /= 2;
  }
  net_->push_back(conv_t(width, options.channels, 2, 1));
  net_->push_back(nn::Tanh());
  // "main" as in the tutorial, so parameter names match its state_dict (main.0.weight, ...).
  register_module("main", net_);
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& z) { return net_->forward(z); }

nn::Sequential discriminator_trunk(const NetOptions& options, int64_t* width_out) {
  validate_options(options);
  const int64_t blocks = middle_blocks(options.image_size);
  const auto lrelu = [] {
    return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2).inplace(true));
  };
  int64_t width = options.ndf;
  nn::Sequential net;
  net->push_back(conv(options.channels, width, 2, 1));  // no norm on the first layer
  net->push_back(lrelu());
  for (int64_t i = 0; i < blocks; ++i) {
    net->push_back(conv(width, width * 2, 2, 1));
    net->push_back(make_norm(options, width * 2));
    net->push_back(lrelu());
    width *= 2;
  }
  *width_out = width;
  return net;
}

DiscriminatorImpl::DiscriminatorImpl(const NetOptions& options) {
  int64_t width = 0;
  net_ = discriminator_trunk(options, &width);
  net_->push_back(conv(width, 1, 1, 0));  // [B, width, 4, 4] -> [B, 1, 1, 1]
  net_->push_back(nn::Sigmoid());
  register_module("main", net_);
}

torch::Tensor DiscriminatorImpl::forward(const torch::Tensor& images) {
  return net_->forward(images).view(-1);
}

torch::Tensor DiscriminatorImpl::logits(const torch::Tensor& images) {
  torch::Tensor x = images;
  auto layer = net_->begin();
  for (size_t i = 0; i + 1 < net_->size(); ++i, ++layer) x = layer->forward(x);  // all but Sigmoid
  return x.view(-1);
}

namespace {

template <class Options>
int64_t padding(const Options& options) {
  return std::get<torch::ExpandingArray<2>>(options.padding())->at(0);
}

}  // namespace

double conv_chain_flops(torch::nn::Module& module, int64_t side) {
  double flops = 0;
  auto macs = [](const torch::Tensor& weight) {  // in x out x k x k multiply-adds per position
    return static_cast<double>(weight.numel());
  };
  for (const auto& child : module.modules(/*include_self=*/false)) {
    if (const auto* c = child->as<nn::Conv2dImpl>()) {
      const auto& o = c->options;
      side = (side + 2 * padding(o) - o.kernel_size()->at(0)) / o.stride()->at(0) + 1;
      flops += 2 * macs(c->weight) * static_cast<double>(side * side);
    } else if (const auto* t = child->as<nn::ConvTranspose2dImpl>()) {
      const auto& o = t->options;
      flops += 2 * macs(t->weight) * static_cast<double>(side * side);  // per input position
      side = (side - 1) * o.stride()->at(0) - 2 * padding(o) + o.kernel_size()->at(0);
    }
  }
  return flops;
}

void init_weights(torch::nn::Module& module) {
  for (const auto& child : module.modules(/*include_self=*/true)) init_module(*child);
}

}  // namespace dcgan::models
