// The TorchScript feature extractor, the features of N images over the ranks, and the cache.
#include "dcgan/eval/features.h"

#include <cstdlib>

#include <unistd.h>

#include <algorithm>

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/sha256.h"
#include "dcgan/common/str.h"
#include "dcgan/interop/state_dict.h"

namespace dcgan::eval {

FeatureExtractor::FeatureExtractor(const std::string& path, const torch::Device& device)
    : path_(path), sha256_(sha256_file(path)), device_(device) {
  try {
    module_ = torch::jit::load(path, device);
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    what = what.substr(0, what.find('\n'));
    throw DataError(dcgan::str("--features ", path, ": not a TorchScript module (", what,
                               ") HINT: save it with torch.jit.save(torch.jit.script(model))"));
  }
  module_.eval();
}

torch::Tensor FeatureExtractor::operator()(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  c10::IValue out;
  try {
    out = module_.forward({images.to(device_, torch::kFloat32)});
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    what = what.substr(0, what.find('\n'));
    throw DataError(dcgan::str("--features ", path_, ": forward on ", images.sizes(),
                               " images failed: ", what));
  }
  if (!out.isTensor() || out.toTensor().dim() != 2 || out.toTensor().size(0) != images.size(0) ||
      !out.toTensor().is_floating_point()) {
    throw DataError(
        dcgan::str("--features ", path_, ": forward must return a float tensor [", images.size(0),
                   ", D] for ", images.size(0), " images, got ",
                   out.isTensor() ? dcgan::str(out.toTensor().sizes()) : out.tagKind()));
  }
  return out.toTensor().to(torch::kCPU, torch::kFloat32);
}

FeatureStats extract_features(FeatureExtractor& extractor, int64_t n, int64_t batch,
                              const ImageSource& images, distributed::Communicator& comm,
                              bool keep_features) {
  const int64_t world = comm.world_size();
  const int64_t chunk = (n + world - 1) / world;
  const int64_t first = std::min<int64_t>(n, comm.rank() * chunk);
  const int64_t last = std::min<int64_t>(n, first + chunk);
  FeatureStats mine;
  for (int64_t i = first; i < last; i += batch) {
    const int64_t count = std::min(batch, last - i);
    mine.add(extractor(images(i, count)), keep_features);
  }
  // A rank whose chunk is empty (n < world) still needs the width: every rank extracts at least
  // one image for it, and drops it.
  int64_t width = mine.dim();
  if (width == 0) width = extractor(images(0, 1)).size(1);
  if (!mine.sum.defined()) {
    mine.sum = torch::zeros({width}, torch::kFloat64);
    mine.outer = torch::zeros({width, width}, torch::kFloat64);
  }
  if (world == 1) return mine;
  FeatureStats all;
  torch::Tensor count = torch::tensor({mine.count}, torch::kInt64);
  comm.all_reduce(count, distributed::ReduceOp::kSum);
  all.count = count.item<int64_t>();
  all.sum = mine.sum.clone();
  all.outer = mine.outer.clone();
  comm.all_reduce(all.sum, distributed::ReduceOp::kSum);
  comm.all_reduce(all.outer, distributed::ReduceOp::kSum);
  if (keep_features) {  // equal-sized chunks (the last ones padded), gathered in rank order
    torch::Tensor padded = torch::zeros({chunk, width}, torch::kFloat32);
    if (mine.count > 0) padded.narrow(0, 0, mine.count).copy_(mine.features);
    torch::Tensor gathered;
    comm.all_gather(padded, gathered);
    all.features = gathered.reshape({world * chunk, width}).narrow(0, 0, n).clone();
  }
  return all;
}

std::string stats_cache_path(const std::string& dir, const std::string& manifest_sha256,
                             const std::string& extractor_sha256, int64_t n) {
  return dcgan::str(dir, "/real-", manifest_sha256.substr(0, 16), "-",
                    extractor_sha256.substr(0, 16), "-", n, ".pt");
}

bool load_cached_stats(const std::string& path, bool need_features, FeatureStats* stats) {
  if (::access(path.c_str(), R_OK) != 0) return false;
  try {
    FeatureStats cached;
    for (const auto& [name, tensor] : interop::load_state_dict(path)) {
      if (name == "count") cached.count = tensor.item<int64_t>();
      if (name == "sum") cached.sum = tensor;
      if (name == "outer") cached.outer = tensor;
      if (name == "features") cached.features = tensor;
    }
    if (!cached.sum.defined() || !cached.outer.defined() || cached.count < 1)
      throw DataError(dcgan::str(path, ": not a statistics file"));
    if (need_features && !cached.features.defined()) return false;
    *stats = cached;
    return true;
  } catch (const Error& e) {
    log::warn(dcgan::str("ignoring the statistics cache: ", e.what()));
    return false;
  }
}

void save_cached_stats(const std::string& path, const FeatureStats& stats) {
  interop::StateDict tensors = {{"count", torch::tensor(stats.count, torch::kInt64)},
                                {"sum", stats.sum},
                                {"outer", stats.outer}};
  if (stats.features.defined()) tensors.emplace_back("features", stats.features);
  interop::save_state_dict(path, tensors);
}

std::string default_stats_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::string base =
      xdg != nullptr && *xdg != 0 ? xdg : std::string(home ? home : ".") + "/.cache";
  return base + "/dcgan-dist/eval-stats";
}

}  // namespace dcgan::eval
