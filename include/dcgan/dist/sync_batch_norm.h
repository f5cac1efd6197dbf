// SyncBatchNorm2d: batch statistics synchronised across ranks in forward and backward, so N ranks
// x batch b compute what 1 rank x batch N*b computes. Parameters and buffers are named like
// torch::nn::BatchNorm2d (weight, bias, running_mean, running_var, num_batches_tracked).
#pragma once

#include <torch/torch.h>

#include "dcgan/dist/communicator.h"
#include "dcgan/dist/module_sync.h"  // average_bn_running_stats, broadcast_module, checks

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

}  // namespace dcgan::dist
