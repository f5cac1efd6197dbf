// dcgan-sample: renders a PNG grid from a checkpoint of any model: decoded N(0, 1) codes (the
// DCGAN generator, the AE/VAE decoder), latent-space walks, or (AE/VAE, --reconstruct DATA)
// images of a packed data set over their reconstructions.
#include <algorithm>
#include <string>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "dcgan/common/cli.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/common/str.h"
#include "dcgan/data/dataset.h"
#include "dcgan/train/batch_loader.h"
#include "dcgan/train/checkpoint.h"
#include "dcgan/train/image_grid.h"

namespace {

struct SampleOptions {
  std::string ckpt;         // run dir, its checkpoints/ dir, or a step-NNNNNN dir
  std::string out;          // PNG path
  int64_t n = 64;           // images (with --interpolate: rows = max(1, n / K))
  int64_t seed = 0;         // latent draws
  int64_t interpolate = 0;  // K >= 2: each row walks from one latent to another in K steps
  std::string reconstruct;  // a packed data set: its first n images over their reconstructions
  bool no_ema = false;      // the raw decoder even when the checkpoint has its EMA
};

// A checkpoint that cannot be found or read is a data error (exit 3) naming the path, whatever
// layer noticed it: the checkpoint API (UsageError for "no checkpoint here") or torch's loader.
using Loaded = dcgan::train::SamplingModels;

Loaded load(const std::string& path, bool with_encoder, bool ema) {
  return dcgan::train::open_user_checkpoint(path, [&](const std::string& dir) {
    return dcgan::train::load_sampling_models(dir, torch::kCPU, with_encoder, ema);
  });
}

// [n, nz, 1, 1] latents and the grid's row length.
std::pair<torch::Tensor, int64_t> latents(const SampleOptions& o, int64_t nz) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed));
  if (o.interpolate == 0) return {torch::randn({o.n, nz, 1, 1}, gen), dcgan::train::kGridColumns};
  const int64_t k = o.interpolate, rows = std::max<int64_t>(1, o.n / k);
  const auto from = torch::randn({rows, 1, nz}, gen), to = torch::randn({rows, 1, nz}, gen);
  const auto t = torch::linspace(0.0, 1.0, k).view({1, k, 1});
  return {(from * (1 - t) + to * t).reshape({rows * k, nz, 1, 1}), k};
}

// The first n images of a packed data set (float [-1, 1] NCHW), which must have the checkpoint's
// image size and channels.
torch::Tensor data_images(const std::string& dir, int64_t n, const dcgan::train::RunShape& shape) {
  using namespace dcgan;
  data::ShardDataset dataset(dir);
  if (dataset.image_size() != shape.image_size || dataset.channels() != shape.channels) {
    throw UsageError(str("--reconstruct ", dir, " holds ", dataset.image_size(), "x",
                         dataset.image_size(), "x", dataset.channels(),
                         " images, but the checkpoint was trained on ", shape.image_size, "x",
                         shape.image_size, "x", shape.channels));
  }
  n = std::min<int64_t>(n, dataset.image_count());
  std::vector<int64_t> indices(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) indices[static_cast<size_t>(i)] = i;
  return train::read_training_images(dataset, indices, torch::kCPU);
}

int sample(const SampleOptions& o) {
  using namespace dcgan;
  if (o.n < 1) throw UsageError(str("--n must be at least 1, got ", o.n));
  if (o.interpolate == 1 || o.interpolate < 0) {
    throw UsageError(str("--interpolate needs at least 2 steps, got ", o.interpolate));
  }
  if (!o.reconstruct.empty() && o.interpolate != 0) {
    throw UsageError("--reconstruct and --interpolate exclude each other");
  }
  Loaded loaded = load(o.ckpt, !o.reconstruct.empty(), !o.no_ema);
  if (!o.reconstruct.empty() && !loaded.encoder) {
    throw UsageError(str("--reconstruct needs an ae or vae checkpoint; ", loaded.info.dir, " is a ",
                         loaded.info.model, " run, which has no encoder"));
  }
  torch::NoGradGuard no_grad;
  if (!o.reconstruct.empty()) {
    const torch::Tensor images = data_images(o.reconstruct, o.n, loaded.info.shape);
    // Each row of up to 8 images over the row of their reconstructions (the VAE's from mu).
    const torch::Tensor recon = loaded.decoder->forward(loaded.encoder->encode(images).mu);
    train::save_grid_png(train::reconstruction_rows(images, recon, train::kGridColumns), o.out,
                         train::kGridColumns);
    log::info(str("wrote ", images.size(0), " images over their ", loaded.info.model,
                  " reconstructions to ", o.out));
    return 0;
  }
  const auto [z, nrow] = latents(o, loaded.info.net_options().nz);
  train::save_grid_png(loaded.decoder->forward(z), o.out, nrow);
  log::info(str("wrote ", z.size(0), " samples to ", o.out));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  SampleOptions o;
  CLI::App app{
      "dcgan-sample: render samples of a dcgan-train checkpoint (dcgan, ae or vae: the model is "
      "read from the checkpoint) as a PNG grid"};
  dcgan::cli::set_defaults(app);
  app.add_option("--ckpt", o.ckpt,
                 "run directory, its checkpoints/ directory, or a step-NNNNNN directory")
      ->required();
  app.add_option("--out", o.out, "PNG file to write")->required();
  app.add_option("--n", o.n, "number of samples (8 per row), or of images with --reconstruct");
  app.add_option("--seed", o.seed, "seed of the latent draws: same seed and checkpoint, same PNG");
  app.add_option(
      "--interpolate", o.interpolate,
      "K >= 2: each row is a K-step linear walk between two random latents (n / K rows)");
  app.add_option("--reconstruct", o.reconstruct,
                 "ae, vae: a packed data set; its first n images, each row over the row of its "
                 "reconstructions (the VAE decodes mu)");
  app.add_flag("--no-ema", o.no_ema,
               "decode with the raw weights, not the EMA (a run with --ema-halflife-kimg)");
  if (const auto code = dcgan::cli::parse(app, argc, argv, "dcgan-sample")) return *code;
  dcgan::log::init({});
  return dcgan::run_guarded("dcgan-sample", [&] { return sample(o); });
}
