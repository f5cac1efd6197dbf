// RAII for the CUDA and NCCL handles of the NCCL backend: move-only, explicit constructors,
// noexcept destructors that log instead of throwing; the communicator has an explicit abort().
// No destructor talks to another rank.
#pragma once
#ifdef DCGAN_WITH_NCCL

#include <cuda_runtime_api.h>
#include <nccl.h>

namespace dcgan::distributed::detail {

// A CUDA event without timing, for ordering streams and for polling completion.
class CudaEvent {
 public:
  explicit CudaEvent(int device);
  ~CudaEvent() noexcept;
  CudaEvent(CudaEvent&& other) noexcept;
  CudaEvent& operator=(CudaEvent&& other) noexcept;
  CudaEvent(const CudaEvent&) = delete;
  CudaEvent& operator=(const CudaEvent&) = delete;
  cudaEvent_t get() const { return event_; }

 private:
  cudaEvent_t event_ = nullptr;
};

// Owns an ncclComm_t created elsewhere (ncclCommInitRankConfig). The destructor and abort() call
// ncclCommAbort, which frees local resources without waiting for peers: the communicator drains
// its stream first (under the deadline), and on the error path a peer may never answer.
class NcclComm {
 public:
  explicit NcclComm(ncclComm_t comm) : comm_(comm) {}
  ~NcclComm() noexcept { abort(); }
  NcclComm(NcclComm&& other) noexcept : comm_(other.comm_) { other.comm_ = nullptr; }
  NcclComm& operator=(NcclComm&& other) noexcept;
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;
  ncclComm_t get() const { return comm_; }
  void abort() noexcept;

 private:
  ncclComm_t comm_ = nullptr;
};

}  // namespace dcgan::distributed::detail

#endif  // DCGAN_WITH_NCCL
