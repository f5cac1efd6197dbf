// SyncBatchNorm2d: batch statistics synchronised across ranks in forward and backward, so N ranks
// x batch b compute what 1 rank x batch N*b computes. Parameters and buffers are named like
// torch::nn::BatchNorm2d (weight, bias, running_mean, running_var, num_batches_tracked).
#pragma once

#include <torch/torch.h>

#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/module_sync.h"  // bn_running_stats, broadcast_module, checks

namespace dcgan::distributed {

// In training, forward all-gathers each rank's per-channel (mean, M2, count) and normalises with
// the global mean and biased variance; backward all-reduces the per-channel sums of dy and
// dy*(x-mean), so the input gradient is that of the global batch. weight/bias gradients stay this
// rank's share (the GradReducer sums and averages them like any other gradient; the loss is a
// per-rank mean, so the averaged result equals 1 rank x N*b). Running statistics: momentum update
// with the global mean and the unbiased global variance, identical on every rank. In eval mode it
// is plain batch_norm with the running statistics and no communication.
// Every rank must call forward and backward the same number of times in the same order (they are
// collectives). `comm` must outlive the module. With the MPI backend, CPU graphs run backward on
// the calling thread; CUDA graphs should use the NCCL backend (autograd's device thread would make
// the MPI call, which MPI_THREAD_FUNNELED does not allow).
class SyncBatchNorm2dImpl : public torch::nn::Module {
 public:
  SyncBatchNorm2dImpl(int64_t num_features, Communicator& comm, double eps = 1e-5,
                      double momentum = 0.1);
  // input [N, C, H, W] -> same shape.
  torch::Tensor forward(const torch::Tensor& input);

  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  Communicator* comm_;
  double eps_;
  double momentum_;
};
TORCH_MODULE(SyncBatchNorm2d);

}  // namespace dcgan::distributed
