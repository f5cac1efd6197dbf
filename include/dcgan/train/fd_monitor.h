// FdMonitor: FD during training (--eval-every). Once per invocation the extractor is loaded and
// the training images' feature moments are computed; at each eval step the decoder's images of
// fixed seeded codes are scored against them. Every rank calls both: the extraction is shared
// over the ranks, so each is a collective.
#pragma once

#include <cstdint>
#include <memory>

#include <torch/torch.h>

#include "dcgan/data/dataset.h"
#include "dcgan/distributed/communicator.h"
#include "dcgan/eval/metrics.h"
#include "dcgan/train/config.h"
#include "dcgan/train/recipe.h"

namespace dcgan::eval {
class FeatureExtractor;
}

namespace dcgan::train {

class FdMonitor {
 public:
  // Loads --eval-features and the moments of the first --eval-samples training images.
  FdMonitor(const TrainConfig& config, data::ShardDataset& dataset, distributed::Communicator& comm,
            torch::Device device);
  ~FdMonitor();
  FdMonitor(const FdMonitor&) = delete;
  FdMonitor& operator=(const FdMonitor&) = delete;

  // The FD of --eval-samples images of `recipe`'s decoder (its EMA when there is one).
  double measure(Recipe& recipe);

 private:
  const TrainConfig& config_;
  distributed::Communicator& comm_;
  torch::Device device_;
  std::unique_ptr<eval::FeatureExtractor> extractor_;
  eval::Moments real_;  // the training images' feature moments
};

}  // namespace dcgan::train
