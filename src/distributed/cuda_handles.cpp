// CUDA/NCCL RAII wrappers and the CUDA_CHECK / NCCL_CHECK throwers of dcgan/common/check.h.
#ifdef DCGAN_WITH_NCCL

#include "cuda_handles.h"

#include <string>
#include <utility>

#include "dcgan/common/check.h"
#include "dcgan/common/log.h"

namespace dcgan::detail {

void throw_cuda_error(int code, const char* expr, const char* file, int line) {
  throw LibraryError(log::rank_tag() + " CUDA error " + std::to_string(code) + " (" +
                     cudaGetErrorString(static_cast<cudaError_t>(code)) + ") in " + expr + " at " +
                     file + ":" + std::to_string(line));
}

void throw_nccl_error(int code, const char* expr, const char* file, int line) {
  throw LibraryError(log::rank_tag() + " NCCL error " + std::to_string(code) + " (" +
                     ncclGetErrorString(static_cast<ncclResult_t>(code)) + ") in " + expr + " at " +
                     file + ":" + std::to_string(line) +
                     ". HINT: rerun with NCCL_DEBUG=WARN for NCCL's own account");
}

}  // namespace dcgan::detail

namespace dcgan::distributed::detail {
namespace {

void log_cuda_failure(cudaError_t rc, const char* what) noexcept {
  if (rc != cudaSuccess) log::warn(std::string(what) + " failed: " + cudaGetErrorString(rc));
}

}  // namespace

CudaEvent::CudaEvent(int device) {
  CUDA_CHECK(cudaSetDevice(device));
  CUDA_CHECK(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming));
}

CudaEvent::~CudaEvent() noexcept {
  if (event_ != nullptr) log_cuda_failure(cudaEventDestroy(event_), "cudaEventDestroy");
}

CudaEvent::CudaEvent(CudaEvent&& other) noexcept : event_(std::exchange(other.event_, nullptr)) {}

CudaEvent& CudaEvent::operator=(CudaEvent&& other) noexcept {
  if (this != &other) {
    if (event_ != nullptr) log_cuda_failure(cudaEventDestroy(event_), "cudaEventDestroy");
    event_ = std::exchange(other.event_, nullptr);
  }
  return *this;
}

NcclComm& NcclComm::operator=(NcclComm&& other) noexcept {
  if (this != &other) {
    abort();
    comm_ = std::exchange(other.comm_, nullptr);
  }
  return *this;
}

void NcclComm::abort() noexcept {
  if (comm_ == nullptr) return;
  const ncclResult_t rc = ncclCommAbort(comm_);
  if (rc != ncclSuccess) log::warn(std::string("ncclCommAbort failed: ") + ncclGetErrorString(rc));
  comm_ = nullptr;
}

}  // namespace dcgan::distributed::detail

#endif  // DCGAN_WITH_NCCL
