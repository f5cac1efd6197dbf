// Fingerprints of training state: the project's 64-bit hash (common/hash.h) chained over every
// tensor, in order, so two runs (or two ranks) compare bit-identity through one short hex string.
// Checkpoints record them; nothing is refused on them, so checkpoints of another hash still load.
#pragma once

#include <cstdint>
#include <string>

#include <torch/torch.h>

namespace dcgan::train {

// Every parameter and buffer of `module`, in registration order, as 16 hex digits.
std::string module_fingerprint(torch::nn::Module& module);

// Every Adam state tensor (step, exp_avg, exp_avg_sq) in parameter order, as 16 hex digits.
std::string optimizer_fingerprint(torch::optim::Adam& optimizer);

}  // namespace dcgan::train
