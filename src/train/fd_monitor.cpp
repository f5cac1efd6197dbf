// FD during training: the training images' moments once, the decoder's at each eval step.
#include "dcgan/train/fd_monitor.h"

#include <chrono>

#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "dcgan/eval/features.h"
#include "dcgan/train/eval_images.h"

namespace dcgan::train {
namespace {

// The fixed codes of FD during training are seeded apart from the latent and init draws.
constexpr int64_t kEvalSeedOffset = 2;
// Images per extractor call of FD during training.
constexpr int64_t kEvalBatch = 100;

}  // namespace

FdMonitor::FdMonitor(const TrainConfig& config, data::ShardDataset& dataset,
                     distributed::Communicator& comm, torch::Device device)
    : config_(config), comm_(comm), device_(device) {
  extractor_ = std::make_unique<eval::FeatureExtractor>(config_.eval_features, device_);
  const int64_t n = std::min(config_.eval_samples, dataset.image_count());
  const auto t0 = std::chrono::steady_clock::now();
  real_ = eval::moments(eval::extract_features(*extractor_, n, kEvalBatch,
                                               dataset_images(dataset, device_), comm_, false));
  log::info(str("FD every ", config_.eval_every, " steps: ", config_.eval_samples,
                " decoded images against the first ", n, " training images (features of width ",
                real_.mean.size(0), " in ",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                " s)"));
}

FdMonitor::~FdMonitor() = default;

double FdMonitor::measure(Recipe& recipe) {
  const eval::FeatureStats fake = eval::extract_features(
      *extractor_, config_.eval_samples, kEvalBatch,
      decoded_images([&recipe](const torch::Tensor& z) { return recipe.decode(z); },
                     config_.eval_samples, config_.nz,
                     static_cast<uint64_t>(config_.seed) + kEvalSeedOffset, device_),
      comm_, false);
  return eval::frechet_distance(real_, eval::moments(fake));
}

}  // namespace dcgan::train
