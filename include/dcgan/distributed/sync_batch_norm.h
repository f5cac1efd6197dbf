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
// collectives). `comm` must outlive the module. The statistics are float32 (float64 for float64
// input) whatever the input's dtype, and forward makes no host read.
//
// Note [Sync-BN's collective in backward]: for CUDA tensors autograd runs backward on its device
// thread, so the all-reduce of the gradient sums is called there. The thread that called
// backward() is blocked in it until the whole graph is done, so no two threads ever call the
// communicator at once: with --backend mpi that is what MPI_THREAD_SERIALIZED allows (MpiSession
// asks for it; make_communicator refuses MPI on CUDA without it), and with NCCL the collective
// only enqueues on its stream. CPU graphs run backward on the calling thread.
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
