// Tests of the AE/VAE model pieces: the encoder's shapes, parameter names and exact parameter
// counts at 32 and 64 pixels, the closed-form KL against hand values and a Monte-Carlo estimate,
// and the reparameterisation's gradients against central finite differences and their closed form.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "dcgan/models/autoencoder.h"
#include "dcgan/models/dcgan.h"
#include "support/torch_support.h"

namespace dcgan::test {
namespace {

std::vector<std::string> parameter_names(torch::nn::Module& module) {
  std::vector<std::string> names;
  for (const auto& item : module.named_parameters()) names.push_back(item.key());
  return names;
}

models::NetOptions tiny_options(int64_t size, int64_t channels) {
  models::NetOptions options;
  options.nz = 16;
  options.ndf = 8;
  options.ngf = 8;
  options.channels = channels;
  options.image_size = size;
  return options;
}

struct EncoderCase {
  int64_t size;
  int64_t channels;
  int64_t ae_parameters;   // trunk + mu head
  int64_t vae_parameters;  // trunk + mu head + logvar head
};

// Hand counts (nz 16, ndf 8; every conv 4x4 = 16 taps and bias-free; BN: weight + bias per
// channel).
//   32, nc 3: conv 3->8 = 3*8*16 = 384; conv 8->16 = 2048, BN16 = 32; conv 16->32 = 8192,
//             BN32 = 64; head 32->16 = 32*16*16 = 8192.
//             AE 384+2048+32+8192+64+8192 = 18912; VAE + 8192 = 27104.
//   32, nc 1: first conv 1*8*16 = 128 (256 fewer): AE 18656; VAE 26848.
//   64, nc 3: a third block: conv 32->64 = 32768, BN64 = 128; head 64->16 = 64*16*16 = 16384.
//             AE 384+2048+32+8192+64+32768+128+16384 = 60000; VAE + 16384 = 76384.
//   64, nc 1: 256 fewer: AE 59744; VAE 76128.
const EncoderCase kEncoderCases[] = {
    {32, 3, 18912, 27104},
    {32, 1, 18656, 26848},
    {64, 3, 60000, 76384},
    {64, 1, 59744, 76128},
};

TEST(Autoencoder, EncoderShapesAndParameterCounts) {
  torch::manual_seed(1);
  for (const EncoderCase& c : kEncoderCases) {
    SCOPED_TRACE("size " + std::to_string(c.size) + " channels " + std::to_string(c.channels));
    const models::NetOptions options = tiny_options(c.size, c.channels);
    models::Encoder ae(options, /*variational=*/false);
    models::Encoder vae(options, /*variational=*/true);
    EXPECT_FALSE(ae->variational());
    EXPECT_TRUE(vae->variational());
    EXPECT_EQ(count_parameters(*ae), c.ae_parameters);
    EXPECT_EQ(count_parameters(*vae), c.vae_parameters);

    const torch::Tensor images = torch::rand({2, c.channels, c.size, c.size}) * 2 - 1;
    const models::Code ae_code = ae->encode(images);
    EXPECT_EQ(ae_code.mu.sizes(), torch::IntArrayRef({2, 16, 1, 1}));
    EXPECT_FALSE(ae_code.logvar.defined());
    // forward is the code's mu (train-mode BN uses batch statistics, so both passes agree).
    EXPECT_TRUE(torch::allclose(ae->forward(images), ae_code.mu));

    const models::Code vae_code = vae->encode(images);
    EXPECT_EQ(vae_code.mu.sizes(), torch::IntArrayRef({2, 16, 1, 1}));
    ASSERT_TRUE(vae_code.logvar.defined());
    EXPECT_EQ(vae_code.logvar.sizes(), torch::IntArrayRef({2, 16, 1, 1}));
    EXPECT_FALSE(torch::equal(vae_code.mu, vae_code.logvar)) << "two heads, one set of weights";
  }
}

// The trunk is registered before the heads, so named_parameters() lists main.* in layer order
// (Conv at 0, LReLU at 1, then Conv/BN/LReLU triples), then mu, then logvar: the order the
// checkpoints and the single Adam over encoder + decoder rely on.
TEST(Autoencoder, EncoderParameterNamesInOrder) {
  const models::NetOptions options = tiny_options(32, 3);
  models::Encoder ae(options, /*variational=*/false);
  models::Encoder vae(options, /*variational=*/true);
  const std::vector<std::string> trunk{"main.0.weight", "main.2.weight", "main.3.weight",
                                       "main.3.bias",   "main.5.weight", "main.6.weight",
                                       "main.6.bias"};
  std::vector<std::string> ae_names = trunk;
  ae_names.push_back("mu.weight");
  std::vector<std::string> vae_names = ae_names;
  vae_names.push_back("logvar.weight");
  EXPECT_EQ(parameter_names(*ae), ae_names);
  EXPECT_EQ(parameter_names(*vae), vae_names);
  const auto params = vae->named_parameters();
  EXPECT_EQ(params["mu.weight"].sizes(), torch::IntArrayRef({16, 32, 4, 4}));
  EXPECT_EQ(params["logvar.weight"].sizes(), torch::IntArrayRef({16, 32, 4, 4}));

  // At 64 the third block adds main.8 (conv) and main.9 (BN) and the heads read 64 channels.
  models::Encoder vae64(tiny_options(64, 1), /*variational=*/true);
  const auto params64 = vae64->named_parameters();
  ASSERT_NE(params64.find("main.0.weight"), nullptr);
  EXPECT_EQ(params64["main.0.weight"].sizes(), torch::IntArrayRef({8, 1, 4, 4}));
  ASSERT_NE(params64.find("main.9.bias"), nullptr);
  EXPECT_EQ(params64["logvar.weight"].sizes(), torch::IntArrayRef({16, 64, 4, 4}));
}

TEST(Autoencoder, KlExactValues) {
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  // mu = 0, sigma = 1: q = p, KL 0.
  const torch::Tensor zero = models::kl_to_standard_normal(torch::zeros({3, 16, 1, 1}, opts),
                                                           torch::zeros({3, 16, 1, 1}, opts));
  EXPECT_EQ(zero.sizes(), torch::IntArrayRef({3}));
  EXPECT_LE(zero.abs().max().item<double>(), 1e-15);
  // One dim, mu = 1, logvar = 0: -1/2 (1 + 0 - 1 - 1) = 1/2.
  EXPECT_NEAR(models::kl_to_standard_normal(torch::ones({1, 1, 1, 1}, opts),
                                            torch::zeros({1, 1, 1, 1}, opts))
                  .item<double>(),
              0.5, 1e-15);
  // One dim, mu = 0, logvar = ln 2 (sigma^2 = 2): -1/2 (1 + ln 2 - 0 - 2) = (1 - ln 2) / 2.
  EXPECT_NEAR(models::kl_to_standard_normal(torch::zeros({1, 1, 1, 1}, opts),
                                            torch::full({1, 1, 1, 1}, std::log(2.0), opts))
                  .item<double>(),
              (1 - std::log(2.0)) / 2, 1e-15);
  // Summed over the code per sample, not over the batch: sample 0 has mu = 1 in 3 dims (3 * 1/2),
  // sample 1 is standard (0).
  torch::Tensor mu = torch::zeros({2, 3, 1, 1}, opts);
  mu[0].fill_(1.0);
  const torch::Tensor per_sample = models::kl_to_standard_normal(mu, torch::zeros_like(mu));
  ASSERT_EQ(per_sample.sizes(), torch::IntArrayRef({2}));
  EXPECT_NEAR(per_sample[0].item<double>(), 1.5, 1e-15);
  EXPECT_NEAR(per_sample[1].item<double>(), 0.0, 1e-15);
}

// KL(q || p) = E_q[log q(z) - log p(z)]. With z = mu + sigma * eps, eps ~ N(0, 1), per dim
// log q(z) - log p(z) = -logvar/2 - eps^2/2 + z^2/2 (the log 2 pi terms cancel); summing over the
// code and averaging N = 200000 draws estimates each sample's KL with standard error s / sqrt(N),
// s the sample standard deviation of the summed log ratio. The closed form must lie within 4
// standard errors (a correct formula misses with probability ~6e-5 per sample; the draw is seeded,
// so the outcome is fixed). Here KL is ~1-5 per sample and the standard error ~0.003-0.01, so a
// wrong factor or sign (e.g. dropping the 1/2, or the exp(logvar) term) is far outside.
TEST(Autoencoder, KlMatchesMonteCarlo) {
  torch::manual_seed(2024);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor mu = torch::randn({4, 8, 1, 1}, opts) * 0.8;
  const torch::Tensor logvar = torch::randn({4, 8, 1, 1}, opts) * 0.6;
  const torch::Tensor kl = models::kl_to_standard_normal(mu, logvar);
  ASSERT_EQ(kl.sizes(), torch::IntArrayRef({4}));
  constexpr int64_t kDraws = 200000;
  for (int64_t b = 0; b < 4; ++b) {
    const torch::Tensor m = mu[b].flatten();  // [8]
    const torch::Tensor lv = logvar[b].flatten();
    const torch::Tensor eps = torch::randn({kDraws, 8}, opts);
    const torch::Tensor z = m + torch::exp(0.5 * lv) * eps;
    const torch::Tensor log_ratio = (-0.5 * lv - 0.5 * eps.pow(2) + 0.5 * z.pow(2)).sum(1);
    const double estimate = log_ratio.mean().item<double>();
    const double standard_error = log_ratio.std().item<double>() / std::sqrt(double(kDraws));
    SCOPED_TRACE("sample " + std::to_string(b));
    EXPECT_GT(kl[b].item<double>(), 0.0);
    EXPECT_LT(standard_error, 0.05);  // the tolerance below is tight enough to mean something
    EXPECT_NEAR(kl[b].item<double>(), estimate, 4 * standard_error)
        << "standard error " << standard_error;
  }
}

// f(mu, logvar) = sum(w * reparameterize(mu, logvar, eps)) + sum(KL), in double: autograd's
// gradients equal central differences (h = 1e-6: truncation ~h^2, rounding ~1e-16 |f| / h, both
// far below 1e-6), and their closed form w + mu and w * exp(logvar/2) * eps / 2 +
// (exp(logvar) - 1) / 2.
TEST(Autoencoder, ReparameterizationGradientsMatchFiniteDifferences) {
  torch::manual_seed(5);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor mu0 = torch::randn({3, 5, 1, 1}, opts);
  const torch::Tensor logvar0 = torch::randn({3, 5, 1, 1}, opts) * 0.5;
  const torch::Tensor eps = torch::randn({3, 5, 1, 1}, opts);
  const torch::Tensor w = torch::randn({3, 5, 1, 1}, opts);
  auto f = [&](const torch::Tensor& mu, const torch::Tensor& logvar) {
    return (w * models::reparameterize(mu, logvar, eps)).sum() +
           models::kl_to_standard_normal(mu, logvar).sum();
  };

  const torch::Tensor mu = mu0.clone().requires_grad_(true);
  const torch::Tensor logvar = logvar0.clone().requires_grad_(true);
  f(mu, logvar).backward();
  const torch::Tensor grad_mu = mu.grad();
  const torch::Tensor grad_logvar = logvar.grad();
  ASSERT_TRUE(grad_mu.defined() && grad_logvar.defined());

  constexpr double kH = 1e-6;
  torch::NoGradGuard no_grad;
  for (int64_t i = 0; i < mu0.numel(); ++i) {
    torch::Tensor up = mu0.clone(), down = mu0.clone();
    up.view(-1)[i] += kH;
    down.view(-1)[i] -= kH;
    const double fd = (f(up, logvar0) - f(down, logvar0)).item<double>() / (2 * kH);
    EXPECT_NEAR(grad_mu.view(-1)[i].item<double>(), fd, 1e-6) << "d/dmu " << i;
  }
  for (int64_t i = 0; i < logvar0.numel(); ++i) {
    torch::Tensor up = logvar0.clone(), down = logvar0.clone();
    up.view(-1)[i] += kH;
    down.view(-1)[i] -= kH;
    const double fd = (f(mu0, up) - f(mu0, down)).item<double>() / (2 * kH);
    EXPECT_NEAR(grad_logvar.view(-1)[i].item<double>(), fd, 1e-6) << "d/dlogvar " << i;
  }
  // Closed form of the whole of f: d/dmu = w + mu; d/dlogvar = w eps exp(logvar/2)/2 + (e^lv-1)/2.
  EXPECT_LE((grad_mu - (w + mu0)).abs().max().item<double>(), 1e-12);
  EXPECT_LE(
      (grad_logvar - (0.5 * w * eps * torch::exp(0.5 * logvar0) + 0.5 * (torch::exp(logvar0) - 1)))
          .abs()
          .max()
          .item<double>(),
      1e-12);
}

// The reparameterisation alone: dz/dmu = 1 and dz/dlogvar = exp(logvar/2) eps / 2, elementwise
// (z's elements depend only on their own mu and logvar, so the gradient of sum(z) is the
// diagonal of the Jacobian).
TEST(Autoencoder, ReparameterizationAnalyticDerivatives) {
  torch::manual_seed(6);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor mu = torch::randn({2, 4, 1, 1}, opts).requires_grad_(true);
  const torch::Tensor logvar = torch::randn({2, 4, 1, 1}, opts).requires_grad_(true);
  const torch::Tensor eps = torch::randn({2, 4, 1, 1}, opts);
  const torch::Tensor z = models::reparameterize(mu, logvar, eps);
  EXPECT_LE((z - (mu + torch::exp(0.5 * logvar) * eps)).abs().max().item<double>(), 1e-14);
  const auto grads = torch::autograd::grad({z.sum()}, {mu, logvar});
  EXPECT_TRUE(torch::equal(grads[0], torch::ones_like(mu)));
  // (a few ulps: autograd multiplies the same factors in another order)
  EXPECT_LE((grads[1] - 0.5 * torch::exp(0.5 * logvar.detach()) * eps).abs().max().item<double>(),
            1e-13);
  // eps = 0 gives z = mu whatever logvar: the AE's deterministic code is the VAE's mean.
  const torch::Tensor at_mean =
      models::reparameterize(mu.detach(), logvar.detach(), torch::zeros_like(eps));
  EXPECT_TRUE(torch::equal(at_mean, mu.detach()));
}

}  // namespace
}  // namespace dcgan::test
