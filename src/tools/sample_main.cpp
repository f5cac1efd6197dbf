// dcgan-sample: renders a grid of generator samples (or latent-space walks) from a checkpoint.
#include <algorithm>
#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/common/str.h"
#include "dcgan/train/checkpoint.h"
#include "dcgan/train/image_grid.h"

namespace {

struct SampleOptions {
  std::string ckpt;         // run dir, its checkpoints/ dir, or a step-NNNNNN dir
  std::string out;          // PNG path
  int64_t n = 64;           // images (with --interpolate: rows = max(1, n / K))
  int64_t seed = 0;         // latent draws
  int64_t interpolate = 0;  // K >= 2: each row walks from one latent to another in K steps
};

// A checkpoint that cannot be found or read is a data error (exit 3) naming the path, whatever
// layer noticed it: the checkpoint API (UsageError for "no checkpoint here") or torch's loader.
// Returns the generator (CPU, eval mode) and its latent size.
std::pair<dcgan::models::Generator, int64_t> load(const std::string& path) {
  try {
    const std::string dir = dcgan::train::resolve_checkpoint_dir(path);
    dcgan::models::Generator generator =
        dcgan::train::load_generator(dir, torch::kCPU);  // verifies first
    return {generator, dcgan::train::read_checkpoint_info(dir).model_options().nz};
  } catch (const dcgan::DataError&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));  // torch appends a stack trace
    if (what.find(path) == std::string::npos) what = dcgan::str("checkpoint ", path, ": ", what);
    throw dcgan::DataError(what);
  }
}

// [n, nz, 1, 1] latents and the grid's row length.
std::pair<torch::Tensor, int64_t> latents(const SampleOptions& o, int64_t nz) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed));
  if (o.interpolate == 0) return {torch::randn({o.n, nz, 1, 1}, gen), 8};
  const int64_t k = o.interpolate, rows = std::max<int64_t>(1, o.n / k);
  const auto from = torch::randn({rows, 1, nz}, gen), to = torch::randn({rows, 1, nz}, gen);
  const auto t = torch::linspace(0.0, 1.0, k).view({1, k, 1});
  return {(from * (1 - t) + to * t).reshape({rows * k, nz, 1, 1}), k};
}

int sample(const SampleOptions& o) {
  using namespace dcgan;
  if (o.n < 1) throw UsageError(str("--n must be at least 1, got ", o.n));
  if (o.interpolate == 1 || o.interpolate < 0) {
    throw UsageError(str("--interpolate needs at least 2 steps, got ", o.interpolate));
  }
  auto [generator, nz] = load(o.ckpt);
  const auto [z, nrow] = latents(o, nz);
  torch::NoGradGuard no_grad;
  train::save_grid_png(generator->forward(z), o.out, nrow);
  log::info(str("wrote ", z.size(0), " samples to ", o.out));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  SampleOptions o;
  CLI::App app{
      "dcgan-sample: render generator samples from a dcgan-train checkpoint as a PNG grid"};
  app.option_defaults()->always_capture_default();
  app.add_option("--ckpt", o.ckpt,
                 "run directory, its checkpoints/ directory, or a step-NNNNNN directory")
      ->required();
  app.add_option("--out", o.out, "PNG file to write")->required();
  app.add_option("--n", o.n, "number of samples (8 per row)");
  app.add_option("--seed", o.seed, "seed of the latent draws: same seed and checkpoint, same PNG");
  app.add_option(
      "--interpolate", o.interpolate,
      "K >= 2: each row is a K-step linear walk between two random latents (n / K rows)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // A bad flag or --config value: one error line naming the option, exit 2.
    dcgan::log::init({});
    return dcgan::run_guarded("dcgan-sample", [&]() -> int {
      throw dcgan::UsageError(dcgan::str(e.what(), " (see dcgan-sample --help)"));
    });
  }
  dcgan::log::init({});
  return dcgan::run_guarded("dcgan-sample", [&] { return sample(o); });
}
