// FNV-1a fingerprints of modules and optimizer state (bit-identity checks across runs and ranks).
#include "dcgan/train/fingerprint.h"

#include <cstdio>

namespace dcgan::train {
namespace {

constexpr uint64_t kFnvOffset = 1469598103934665603ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;

uint64_t fnv1a_bytes(const void* data, size_t n, uint64_t hash) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) hash = (hash ^ bytes[i]) * kFnvPrime;
  return hash;
}

std::string hex(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

uint64_t fnv1a_tensor(const torch::Tensor& tensor, uint64_t hash) {
  const torch::Tensor host = tensor.detach().cpu().contiguous();
  const int dtype = static_cast<int>(host.scalar_type());
  hash = fnv1a_bytes(&dtype, sizeof(dtype), hash);
  for (const int64_t size : host.sizes()) hash = fnv1a_bytes(&size, sizeof(size), hash);
  return fnv1a_bytes(host.data_ptr(), host.nbytes(), hash);
}

std::string module_fingerprint(torch::nn::Module& module) {
  uint64_t hash = kFnvOffset;
  for (const auto& p : module.parameters()) hash = fnv1a_tensor(p, hash);
  for (const auto& b : module.buffers()) hash = fnv1a_tensor(b, hash);
  return hex(hash);
}

std::string optimizer_fingerprint(torch::optim::Adam& optimizer) {
  uint64_t hash = kFnvOffset;
  auto& state = optimizer.state();
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) {
      auto it = state.find(p.unsafeGetTensorImpl());
      if (it == state.end()) continue;  // no step taken yet
      auto& s = static_cast<torch::optim::AdamParamState&>(*it->second);
      const int64_t step = s.step();
      hash = fnv1a_bytes(&step, sizeof(step), hash);
      hash = fnv1a_tensor(s.exp_avg(), hash);
      hash = fnv1a_tensor(s.exp_avg_sq(), hash);
    }
  }
  return hex(hash);
}

}  // namespace dcgan::train
