// Keeping replicas identical: broadcast at start, the BN running statistics that the gradient
// all-reduce averages (GradReducer passengers), and the cross-rank consistency guard. Works on any
// torch::nn::Module.
#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "dcgan/common/hash.h"
#include "dcgan/distributed/communicator.h"

namespace dcgan::distributed {

// Every floating-point buffer whose name ends in running_mean or running_var, in registration
// order. With per-rank BN statistics the replicas drift apart unless these are averaged each step
// (see GradReducer's passengers).
std::vector<torch::Tensor> bn_running_stats(torch::nn::Module& module);

// Broadcasts every parameter and buffer of `module` (recursively, in registration order) from
// `root`, in place. Every rank must pass a module of the same structure.
void broadcast_module(torch::nn::Module& module, Communicator& comm, int root);

// Compares a 64-bit checksum of the bytes of each parameter across ranks (bit-identity, not a
// tolerance) and throws Error naming `module_name`, the first differing parameter and the ranks
// when they differ. Buffers are not compared: per-rank BN statistics are averaged on the gradient
// all-reduce. Collective: every rank must call it.
void check_replicas_consistent(torch::nn::Module& module, const std::string& module_name,
                               Communicator& comm);

// The checksum used above: the project's hash (common/hash.h) of the tensor's dtype, shape and
// bytes in logical order (copied to the host if needed), folded into `hash` so several tensors
// chain into one value.
uint64_t tensor_checksum(const torch::Tensor& tensor, uint64_t hash = kHashOffsetBasis);

}  // namespace dcgan::distributed
