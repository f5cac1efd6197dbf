// Fingerprints of training state: a 64-bit FNV-1a over the bytes of every tensor, in order, so
// two runs (or two ranks) compare bit-identity through one short hex string.
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

namespace dcgan::train {

// Folds the tensor's dtype, shape and bytes (copied to the host, contiguous) into `hash`.
uint64_t fnv1a_tensor(const torch::Tensor& tensor, uint64_t hash);

// Every parameter and buffer of `module`, in registration order, as 16 hex digits.
std::string module_fingerprint(torch::nn::Module& module);

// Every Adam state tensor (step, exp_avg, exp_avg_sq) in parameter order, as 16 hex digits.
std::string optimizer_fingerprint(torch::optim::Adam& optimizer);

}  // namespace dcgan::train
