// Fingerprints of modules and optimizer state (bit-identity checks across runs and ranks).
#include "dcgan/train/fingerprint.h"

#include <cstdio>

#include "dcgan/common/hash.h"
#include "dcgan/distributed/module_sync.h"
#include "dcgan/train/optimizer.h"

namespace dcgan::train {
namespace {

std::string hex(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

std::string module_fingerprint(torch::nn::Module& module) {
  uint64_t hash = kHashOffsetBasis;
  for (const auto& p : module.parameters()) hash = distributed::tensor_checksum(p, hash);
  for (const auto& b : module.buffers()) hash = distributed::tensor_checksum(b, hash);
  return hex(hash);
}

std::string optimizer_fingerprint(torch::optim::Adam& optimizer) {
  uint64_t hash = kHashOffsetBasis;
  sync_host_state(optimizer);
  auto& state = optimizer.state();
  for (const auto& group : optimizer.param_groups()) {
    for (const auto& p : group.params()) {
      auto it = state.find(p.unsafeGetTensorImpl());
      if (it == state.end()) continue;  // no step taken yet
      auto& s = static_cast<torch::optim::AdamParamState&>(*it->second);
      const int64_t step = s.step();
      hash = hash_bytes(&step, sizeof(step), hash);
      hash = distributed::tensor_checksum(s.exp_avg(), hash);
      hash = distributed::tensor_checksum(s.exp_avg_sq(), hash);
    }
  }
  return hex(hash);
}

}  // namespace dcgan::train
