// Helpers for the suites that build torch modules: one definition each, so that a unity batch
// (DCGAN_UNITY_TESTS) that joins several suites still sees exactly one.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace dcgan::test {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

inline int64_t count_parameters(torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel();
  return total;
}

// The BatchNorm running means and variances, in registration order, under their module paths.
inline NamedTensors running_stats(torch::nn::Module& net) {
  NamedTensors out;
  for (const auto& b : net.named_buffers()) {
    const std::string& k = b.key();
    if (k.size() >= 12 &&
        (k.rfind("running_mean") == k.size() - 12 || k.rfind("running_var") == k.size() - 11)) {
      out.emplace_back(k, b.value());
    }
  }
  return out;
}

}  // namespace dcgan::test
