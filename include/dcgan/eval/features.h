// Features for FD/KID: a TorchScript feature extractor, its features of N images shared out over
// the ranks, and the cache of a data set's statistics. Knows torch, the communicator interface
// and the state_dict files of the interop room; where the images come from is the caller's.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <torch/script.h>
#include <torch/torch.h>

#include "dcgan/distributed/communicator.h"
#include "dcgan/eval/metrics.h"

namespace dcgan::eval {

// A TorchScript module (torch.jit.save) whose forward maps float32 NCHW images in [-1, 1] at the
// data's size and channels to features [N, D] (it resizes if it needs to). Run in eval mode
// without gradients on `device`.
class FeatureExtractor {
 public:
  // Throws DataError naming `path` when it is missing or not a TorchScript module.
  FeatureExtractor(const std::string& path, const torch::Device& device);
  // [B, D] float32 on the CPU. Throws DataError naming the file when the output is not a [B, D]
  // floating tensor.
  torch::Tensor operator()(const torch::Tensor& images);
  const std::string& path() const { return path_; }
  const std::string& sha256() const { return sha256_; }  // of the file: the cache key's part

 private:
  std::string path_;
  std::string sha256_;
  torch::Device device_;
  torch::jit::Module module_;
};

// Images [first, first + count) of a set of n, float [-1, 1] NCHW on the extractor's device.
using ImageSource = std::function<torch::Tensor(int64_t first, int64_t count)>;

// The features of images [0, n). Rank r extracts the r-th contiguous chunk of ceil(n / world)
// images in batches of `batch`; the float64 sums are all-reduced and, with keep_features, the
// rows all-gathered in image order, so every rank returns the statistics of all n images.
FeatureStats extract_features(FeatureExtractor& extractor, int64_t n, int64_t batch,
                              const ImageSource& images, distributed::Communicator& comm,
                              bool keep_features);

// The cache file of a data set's statistics: <dir>/real-<data>-<extractor>-<n>.pt, keyed by the
// data set's manifest sha256, the extractor's sha256 (16 hex digits of each) and the image count.
std::string stats_cache_path(const std::string& dir, const std::string& manifest_sha256,
                             const std::string& extractor_sha256, int64_t n);

// $XDG_CACHE_HOME/dcgan-dist/eval-stats (~/.cache/... without it): dcgan-eval's default cache.
std::string default_stats_cache_dir();

// Reads a cache file (a state_dict file: count, sum, outer and, when kept, features). False when
// it is missing, lacks the features `need_features` asks for, or is damaged (with a warning).
bool load_cached_stats(const std::string& path, bool need_features, FeatureStats* stats);

// Writes the cache file atomically; its directory must exist.
void save_cached_stats(const std::string& path, const FeatureStats& stats);

}  // namespace dcgan::eval
