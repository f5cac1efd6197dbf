// Constructors of the concrete communicators, for make_communicator and the tests in this room.
#pragma once

#include <chrono>
#include <memory>

#include <torch/torch.h>

#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/mpi_session.h"

namespace dcgan::distributed::detail {

// One more host wait on a collective (host_wait_count()).
void count_host_wait();

// MPI_COMM_WORLD; CPU tensors in place, CUDA tensors staged through host memory. Every collective
// is a non-blocking MPI call tested against `timeout`.
std::unique_ptr<Communicator> make_mpi_communicator(const MpiSession& session,
                                                    std::chrono::seconds timeout);

// NCCL over every rank of MPI_COMM_WORLD on `device` (a CUDA device); host tensors go through MPI.
// It lives in the CUDA library (nccl_communicator.cpp), which provides it as the table named
// kNcclPart when it loads (dcgan/common/cuda_library.h).
struct NcclPart {
  std::unique_ptr<Communicator> (*make)(const CommConfig& config, const MpiSession& session,
                                        const torch::Device& device);
};
inline constexpr const char* kNcclPart = "distributed.nccl";

}  // namespace dcgan::distributed::detail
