// The AE and VAE recipes' step agrees with an independent Python/PyTorch computation
// (reference_autoencoder_step.py): stats, every updated parameter and the BN running statistics,
// at beta 1 and (VAE) beta 0.5; the VAE's KL stat also equals torch.distributions' KL.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "dcgan/common/atomic_file.h"
#include "dcgan/distributed/communicator.h"
#include "dcgan/train/config.h"
#include "dcgan/train/recipe.h"
#include "support/test_support.h"
#include "support/torch_support.h"
#include "unit/train/python_reference.h"

namespace dcgan::test {
namespace {

using Named = NamedTensors;

std::string shapes_json(const Named& tensors) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < tensors.size(); ++i) {
    const torch::Tensor& t = tensors[i].second;
    out << (i ? ", " : "") << "[";
    for (int64_t k = 0; k < t.dim(); ++k) out << (k ? ", " : "") << t.size(k);
    out << "]";
  }
  return out.str() + "]";
}

std::string names_json(const Named& tensors) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < tensors.size(); ++i)
    out << (i ? ", " : "") << "\"" << tensors[i].first << "\"";
  return out.str() + "]";
}

Named parameters_of(torch::nn::Module& net) {
  Named out;
  for (const auto& p : net.named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}

// Losses in float32: the VAE's loss is a per-sample sum over 3 * 32 * 32 pixels (~1e3), where
// one float ulp is ~1e-4, so stats are compared to 1e-5 relative (1e-5 absolute below 1).
double stat_tolerance(double reference) { return 1e-5 * std::max(1.0, std::abs(reference)); }

void check_against_python(const std::string& model, double beta) {
  const char* python = std::getenv("DCGAN_PYTHON");
  if (python == nullptr || *python == '\0')
    GTEST_SKIP() << "DCGAN_PYTHON is not set (ctest sets it)";
  torch::set_num_threads(1);
  const bool variational = model == "vae";
  ScratchDir dir("dcgan-ae-step");

  train::TrainConfig config;
  config.model = model;
  config.nz = 16;
  config.ngf = 8;
  config.ndf = 8;
  config.lr = 1e-3;
  config.beta1 = 0.9;
  config.beta2 = 0.999;
  config.beta = beta;
  config.seed = 7;
  const train::RunShape shape{32, 3, 1, "cpu"};
  auto comm = distributed::make_local_communicator();
  torch::manual_seed(3);
  const torch::Tensor reference = torch::rand({8, 3, 32, 32}) * 2 - 1;
  const std::unique_ptr<train::Recipe> recipe = train::make_recipe(
      train::RecipeContext{config, shape, *comm, torch::Device(torch::kCPU), reference});
  ASSERT_EQ(recipe->model(), model);
  EXPECT_EQ(recipe->noise_size(), variational ? 16 : 0);
  const std::vector<std::string> stat_names =
      variational ? std::vector<std::string>{"loss", "rec_mse", "kl"}
                  : std::vector<std::string>{"rec_mse"};
  ASSERT_EQ(recipe->stat_names(), stat_names);

  const std::vector<train::NamedModule> modules = recipe->modules();
  ASSERT_EQ(modules.size(), 2u);
  ASSERT_EQ(modules[0].name, "encoder");
  ASSERT_EQ(modules[1].name, "decoder");
  torch::nn::Module& encoder = *modules[0].module;
  torch::nn::Module& decoder = *modules[1].module;
  const Named enc_params = parameters_of(encoder);
  const Named dec_params = parameters_of(decoder);
  ASSERT_FALSE(enc_params.empty());
  EXPECT_EQ(enc_params.back().first, variational ? "logvar.weight" : "mu.weight");

  torch::manual_seed(11);
  const torch::Tensor real = torch::rand({8, 3, 32, 32}) * 2 - 1;
  const torch::Tensor eps = variational ? torch::randn({8, 16, 1, 1}) : torch::Tensor();
  std::vector<torch::Tensor> before;
  for (size_t i = 0; i < enc_params.size(); ++i) {
    write_raw(enc_params[i].second, dir / ("enc_" + std::to_string(i) + ".bin"));
    before.push_back(enc_params[i].second.detach().clone());
  }
  for (size_t i = 0; i < dec_params.size(); ++i) {
    write_raw(dec_params[i].second, dir / ("dec_" + std::to_string(i) + ".bin"));
    before.push_back(dec_params[i].second.detach().clone());
  }
  write_raw(real, dir / "real.bin");
  if (variational) write_raw(eps, dir / "eps.bin");
  const Named enc_stats = running_stats(encoder);
  const Named dec_stats = running_stats(decoder);
  std::ofstream(dir / "manifest.json")
      << "{\"model\": \"" << model << "\", \"nz\": 16, \"ngf\": 8, \"ndf\": 8, \"channels\": 3, "
      << "\"image_size\": 32, \"lr\": 0.001, \"beta1\": 0.9, \"beta2\": 0.999, \"beta\": " << beta
      << ", \"real_shape\": [8, 3, 32, 32], \"eps_shape\": [8, 16, 1, 1], "
      << "\"enc_names\": " << names_json(enc_params)
      << ", \"enc_shapes\": " << shapes_json(enc_params)
      << ", \"dec_names\": " << names_json(dec_params)
      << ", \"dec_shapes\": " << shapes_json(dec_params)
      << ", \"enc_stat_names\": " << names_json(enc_stats)
      << ", \"dec_stat_names\": " << names_json(dec_stats) << "}";

  const train::StepResult result = recipe->step(real, eps, 1);
  ASSERT_EQ(result.skipped.sizes(), torch::IntArrayRef({1}));
  EXPECT_EQ(result.skipped[0].item<float>(), 0.0f);
  std::string output;
  ASSERT_EQ(run_command(std::string(python) + " " +
                            source_path("tests/unit/train/reference_autoencoder_step.py") + " " +
                            dir.path(),
                        &output),
            0)
      << output;

  const std::string json = read_file(dir / "results.json");
  const torch::Tensor stats = result.stats.cpu().to(torch::kFloat64);
  ASSERT_EQ(stats.numel(), static_cast<int64_t>(stat_names.size()));
  if (variational) {
    const double loss = json_number(json, "loss");
    const double rec_mse = json_number(json, "rec_mse");
    const double kl = json_number(json, "kl");  // torch.distributions' KL, batch mean
    EXPECT_NEAR(stats[0].item<double>(), loss, stat_tolerance(loss));
    EXPECT_NEAR(stats[1].item<double>(), rec_mse, stat_tolerance(rec_mse));
    EXPECT_NEAR(stats[2].item<double>(), kl, stat_tolerance(kl));
    EXPECT_NEAR(stats[2].item<double>(), json_number(json, "kl_closed_form"), stat_tolerance(kl));
    EXPECT_GT(kl, 0.0);
    // The loss is the SSE (3072 pixels times the MSE) plus beta * KL, batch means: the stats
    // agree with each other too (the sum order differs, hence the relative tolerance).
    const double composed = 3 * 32 * 32 * stats[1].item<double>() + beta * stats[2].item<double>();
    EXPECT_NEAR(stats[0].item<double>(), composed, 1e-4 * composed);
  } else {
    const double rec_mse = json_number(json, "rec_mse");
    EXPECT_NEAR(stats[0].item<double>(), rec_mse, stat_tolerance(rec_mse));
    // The AE's loss is the MSE itself.
    EXPECT_NEAR(json_number(json, "loss"), rec_mse, 1e-6);
  }

  auto compare = [&](const Named& mine, const std::string& prefix) {
    for (size_t i = 0; i < mine.size(); ++i) {
      const torch::Tensor ref =
          read_raw(dir / (prefix + std::to_string(i) + ".bin"), mine[i].second.sizes());
      EXPECT_LE((mine[i].second.detach() - ref).abs().max().item<double>(), 1e-5)
          << prefix << i << " (" << mine[i].first << ")";
    }
  };
  compare(enc_params, "out_enc_");
  compare(dec_params, "out_dec_");
  compare(enc_stats, "out_enc_stat_");
  compare(dec_stats, "out_dec_stat_");

  // Adam's first step moves each element by about lr where its gradient is not ~0: every
  // parameter tensor of both nets (the single optimizer covers both) must have moved.
  size_t k = 0;
  for (const Named* params : {&enc_params, &dec_params}) {
    for (const auto& [name, value] : *params) {
      EXPECT_GT((value.detach() - before[k]).abs().max().item<double>(), 0.5 * config.lr)
          << name << " did not move";
      ++k;
    }
  }
}

TEST(AutoencoderStep, AeMatchesIndependentPythonStep) { check_against_python("ae", 1.0); }

TEST(AutoencoderStep, VaeMatchesIndependentPythonStep) { check_against_python("vae", 1.0); }

// beta scales the KL term of the loss and so of the gradients: a recipe that ignored it would
// disagree with the reference here.
TEST(AutoencoderStep, VaeWithHalfBetaMatchesIndependentPythonStep) {
  check_against_python("vae", 0.5);
}

}  // namespace
}  // namespace dcgan::test
