// Tests of the DCGAN models: parameter counts and shapes at 32/64/128, init statistics, the norm
// factory hook, and option validation.
#include <gtest/gtest.h>

#include <string>

#include "dcgan/common/errors.h"
#include "dcgan/models/dcgan.h"
#include "support/torch_support.h"

namespace dcgan::models {
namespace {

using test::count_parameters;

int64_t blocks_for(int64_t size) { return size == 32 ? 2 : size == 64 ? 3 : 4; }

// Closed form: the stem (nz -> ngf*2^m), m halving blocks, the output layer, each 4x4 and
// bias-free, plus a weight and a bias per channel of every norm layer (widths ngf*2^m ... ngf).
int64_t expected_generator_parameters(const NetOptions& o) {
  const int64_t m = blocks_for(o.image_size);
  int64_t convs = o.nz * (o.ngf << m) + o.ngf * o.channels;
  int64_t norm_channels = 0;
  for (int64_t i = 0; i <= m; ++i) norm_channels += o.ngf << i;
  for (int64_t i = 1; i <= m; ++i) convs += (o.ngf << i) * (o.ngf << (i - 1));
  return 16 * convs + 2 * norm_channels;
}

// The mirror image: nc -> ndf without norm, m doubling blocks with norm, ndf*2^m -> 1.
int64_t expected_discriminator_parameters(const NetOptions& o) {
  const int64_t m = blocks_for(o.image_size);
  int64_t convs = o.channels * o.ndf + (o.ndf << m);
  int64_t norm_channels = 0;
  for (int64_t i = 1; i <= m; ++i) {
    convs += (o.ndf << (i - 1)) * (o.ndf << i);
    norm_channels += o.ndf << i;
  }
  return 16 * convs + 2 * norm_channels;
}

TEST(Dcgan, TutorialParameterCountsAt64) {
  NetOptions options;  // 64 / nz 100 / ngf 64 / ndf 64 / nc 3
  Generator g(options);
  Discriminator d(options);
  EXPECT_EQ(count_parameters(*g), 3576704);
  EXPECT_EQ(count_parameters(*d), 2765568);
  EXPECT_EQ(expected_generator_parameters(options), 3576704);
  EXPECT_EQ(expected_discriminator_parameters(options), 2765568);
}

// The benchmark's FLOP floor at 64x64, ngf = ndf = 64, worked out by hand layer by layer: 2 x
// in x out x 4 x 4 per output position of a conv, per input position of a transposed conv.
TEST(Dcgan, ConvolutionFlopsOfTheTutorialNetsAt64) {
  models::NetOptions options;
  models::Generator g(options);
  models::Discriminator d(options);
  const double g_flops = 2.0 * (100 * 512 * 16 * 1 + 512 * 256 * 16 * 16 + 256 * 128 * 16 * 64 +
                                128 * 64 * 16 * 256 + 64 * 3 * 16 * 1024);
  const double d_flops = 2.0 * (3 * 64 * 16 * 1024 + 64 * 128 * 16 * 256 + 128 * 256 * 16 * 64 +
                                256 * 512 * 16 * 16 + 512 * 1 * 16 * 1);
  EXPECT_EQ(models::conv_chain_flops(*g, 1), g_flops);
  EXPECT_EQ(g_flops, 209256448.0);
  EXPECT_EQ(models::conv_chain_flops(*d, 64), d_flops);
  EXPECT_EQ(d_flops, 207634432.0);
  // One training step: D forward and backward three times, G once: about 2.5 GFLOP per image.
  EXPECT_NEAR((3 * g_flops + 9 * d_flops) / 1e9, 2.496, 1e-3);
}

TEST(Dcgan, CountsAndShapesAtEverySize) {
  for (const int64_t size : {32, 64, 128}) {
    for (const int64_t channels : {1, 3}) {
      NetOptions options;
      options.image_size = size;
      options.channels = channels;
      options.nz = 16;
      options.ngf = 8;
      options.ndf = 4;
      Generator g(options);
      Discriminator d(options);
      SCOPED_TRACE("size " + std::to_string(size) + " channels " + std::to_string(channels));
      EXPECT_EQ(count_parameters(*g), expected_generator_parameters(options));
      EXPECT_EQ(count_parameters(*d), expected_discriminator_parameters(options));
      const auto images = g->forward(torch::randn({3, options.nz, 1, 1}));
      EXPECT_EQ(images.sizes(), torch::IntArrayRef({3, channels, size, size}));
      EXPECT_LE(images.abs().max().item<float>(), 1.0f);  // tanh output
      const auto probs = d->forward(images);
      EXPECT_EQ(probs.sizes(), torch::IntArrayRef({3}));
      EXPECT_GT(probs.min().item<float>(), 0.0f);
      EXPECT_LT(probs.max().item<float>(), 1.0f);
    }
  }
}

TEST(Dcgan, ConvolutionsAreBiasFree) {
  Generator g(NetOptions{});
  Discriminator d(NetOptions{});
  int64_t conv_weights = 0;
  for (auto* net :
       {static_cast<torch::nn::Module*>(g.get()), static_cast<torch::nn::Module*>(d.get())}) {
    for (const auto& item : net->named_parameters()) {
      if (item.value().dim() == 4) ++conv_weights;
      // Every bias belongs to a norm layer (1-D weight beside it), never to a conv.
      if (item.key().size() > 5 && item.key().substr(item.key().size() - 5) == ".bias") {
        const auto weight_name = item.key().substr(0, item.key().size() - 5) + ".weight";
        EXPECT_EQ(net->named_parameters()[weight_name].dim(), 1) << item.key();
      }
    }
  }
  EXPECT_EQ(conv_weights, 10);  // 5 layers each
}

struct InitStats {
  torch::Tensor conv, norm_weight, norm_bias;
};

InitStats gather(torch::nn::Module& module) {
  std::vector<torch::Tensor> conv, norm_weight, norm_bias;
  for (const auto& item : module.named_parameters()) {
    const auto& key = item.key();
    auto flat = item.value().detach().flatten();
    if (item.value().dim() == 4)
      conv.push_back(flat);
    else if (key.size() > 7 && key.substr(key.size() - 7) == ".weight")
      norm_weight.push_back(flat);
    else
      norm_bias.push_back(flat);
  }
  return {torch::cat(conv), torch::cat(norm_weight), torch::cat(norm_bias)};
}

TEST(Dcgan, InitMatchesTheTutorialDistributions) {
  torch::manual_seed(999);
  Generator g(NetOptions{});
  Discriminator d(NetOptions{});
  init_weights(*g);
  init_weights(*d);
  for (auto* net :
       {static_cast<torch::nn::Module*>(g.get()), static_cast<torch::nn::Module*>(d.get())}) {
    const auto s = gather(*net);
    // Millions of conv draws: the sample mean and std sit within a few 1e-5 of N(0, 0.02).
    EXPECT_NEAR(s.conv.mean().item<double>(), 0.0, 2e-4);
    EXPECT_NEAR(s.conv.std().item<double>(), 0.02, 2e-4);
    // ~1000 norm weights: standard error of the mean 0.02/sqrt(960) ~ 6.5e-4.
    EXPECT_NEAR(s.norm_weight.mean().item<double>(), 1.0, 4e-3);
    EXPECT_NEAR(s.norm_weight.std().item<double>(), 0.02, 4e-3);
    EXPECT_EQ(s.norm_bias.abs().max().item<float>(), 0.0f);
  }
  // The default BatchNorm init (weight 1) is gone: the weights were drawn.
  EXPECT_GT(gather(*g).norm_weight.std().item<double>(), 0.01);
}

TEST(Dcgan, InitIsReproducibleFromTheSeed) {
  auto make = [] {
    torch::manual_seed(7);
    NetOptions options;
    options.image_size = 32;
    options.ngf = 8;
    Generator g(options);
    init_weights(*g);
    return g;
  };
  auto a = make(), b = make();
  const auto pa = a->parameters(), pb = b->parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::equal(pa[i], pb[i]));
}

// A norm layer of another type with its own weight/bias, as a sync-BN would be.
struct AffineNormImpl : torch::nn::Module {
  explicit AffineNormImpl(int64_t channels) {
    weight = register_parameter("weight", torch::full({channels}, 5.0));
    bias = register_parameter("bias", torch::full({channels}, 5.0));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return x * weight.view({1, -1, 1, 1}) + bias.view({1, -1, 1, 1});
  }
  torch::Tensor weight, bias;
};
TORCH_MODULE(AffineNorm);

TEST(Dcgan, NormFactoryIsUsedAndInitialised) {
  std::vector<int64_t> requested;
  NetOptions options;
  options.image_size = 32;
  options.ngf = 8;
  options.norm = [&](int64_t channels) {
    requested.push_back(channels);
    return torch::nn::AnyModule(AffineNorm(channels));
  };
  Generator g(options);
  EXPECT_EQ(requested, (std::vector<int64_t>{32, 16, 8}));
  EXPECT_EQ(count_parameters(*g), expected_generator_parameters(options));
  torch::manual_seed(1);
  init_weights(*g);
  const auto s = gather(*g);
  EXPECT_EQ(s.norm_bias.abs().max().item<float>(), 0.0f);
  EXPECT_LT((s.norm_weight - 1.0).abs().max().item<float>(), 0.2f);  // redrawn from N(1, 0.02)
  EXPECT_EQ(g->forward(torch::randn({2, 100, 1, 1})).sizes(), torch::IntArrayRef({2, 3, 32, 32}));
}

TEST(Dcgan, UnsupportedSizeIsAUsageErrorNamingIt) {
  NetOptions options;
  options.image_size = 48;
  try {
    validate_options(options);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "image size 48 is not supported; use 32, 64 or 128");
    EXPECT_EQ(e.code(), ExitCode::kUsage);
  }
  EXPECT_THROW(Generator{options}, UsageError);
  EXPECT_THROW(Discriminator{options}, UsageError);
}

TEST(Dcgan, NonPositiveWidthIsAUsageError) {
  NetOptions options;
  options.ngf = 0;
  try {
    validate_options(options);
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "ngf must be positive, got 0");
  }
  validate_options(NetOptions{});  // the defaults are valid
}

}  // namespace
}  // namespace dcgan::models
