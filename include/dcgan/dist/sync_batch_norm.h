// SyncBatchNorm2d: batch statistics synchronised across ranks in forward and backward, so N ranks
// x batch b compute what 1 rank x batch N*b computes. Parameters and buffers are named like
// torch::nn::BatchNorm2d (weight, bias, running_mean, running_var, num_batches_tracked).
#pragma once

#include <torch/torch.h>

#include "dcgan/dist/communicator.h"

namespace dcgan::dist {

class SyncBatchNorm2dImpl : public torch::nn::Module {
 public:
  SyncBatchNorm2dImpl(int64_t num_features, Communicator& comm, double eps = 1e-5,
                      double momentum = 0.1);
  torch::Tensor forward(const torch::Tensor& input);

  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  Communicator* comm_;
  double eps_;
  double momentum_;
};
TORCH_MODULE(SyncBatchNorm2d);

// Averages every floating-point buffer named running_mean/running_var across ranks, so every rank
// holds the same model before a checkpoint or a sample (per-rank BN statistics otherwise).
void average_bn_running_stats(torch::nn::Module& module, Communicator& comm);

// Broadcasts every parameter and buffer of `module` from `root`.
void broadcast_module(torch::nn::Module& module, Communicator& comm, int root);

// Checksum (float64 sum of |x| and of x*index weights) of each parameter, compared across ranks;
// throws Error naming the first tensor whose checksum differs between ranks.
void check_replicas_consistent(torch::nn::Module& module, const std::string& module_name,
                               Communicator& comm);

}  // namespace dcgan::dist
