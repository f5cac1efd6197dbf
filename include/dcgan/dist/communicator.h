// Communicator: the one interface the trainer uses to talk across ranks, with an MPI backend
// (CPU tensors) and an NCCL backend (CUDA tensors; host tensors still go through MPI).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <torch/torch.h>

namespace dcgan::dist {

class MpiSession;

enum class ReduceOp { kSum, kMax, kMin };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend_name() const = 0;  // "mpi", "nccl", "local"

  // In place, over a contiguous tensor of float32/float64/int32/int64. CPU tensors always work;
  // CUDA tensors need the NCCL backend. Blocks until the result is usable on the caller's stream.
  virtual void all_reduce(torch::Tensor& tensor, ReduceOp op) = 0;
  virtual void broadcast(torch::Tensor& tensor, int root) = 0;
  // Gathers equal-sized contiguous tensors from every rank into `out` ([world, *in.shape]).
  virtual void all_gather(const torch::Tensor& in, torch::Tensor& out) = 0;
  virtual void barrier() = 0;
};

struct CommConfig {
  std::string backend = "auto";  // auto | nccl | mpi
  std::chrono::seconds timeout{600};  // NCCL: deadline of every wait before abort
};

// Chooses the backend: "auto" is NCCL when `device` is CUDA and NCCL was compiled in, else MPI.
// Throws UsageError for "nccl" without CUDA/NCCL, or more local ranks than visible GPUs.
std::unique_ptr<Communicator> make_communicator(const CommConfig& config, const MpiSession& session,
                                                const torch::Device& device);

// A world-size-1 communicator with no MPI underneath: every operation is the identity. Used by
// tests that need no launcher.
std::unique_ptr<Communicator> make_local_communicator();

// Averages a scalar-like tensor set across ranks on the host: one small all-reduce.
// Returns the per-element mean; `values` is read, not modified.
torch::Tensor all_reduce_mean_host(Communicator& comm, const torch::Tensor& values);

}  // namespace dcgan::dist
