// The NCCL backend's watchdog thread (nccl_watchdog.h).
#ifdef DCGAN_WITH_NCCL

#include "nccl_watchdog.h"

#include <cstdlib>

#include "dcgan/common/log.h"
#include "dcgan/common/str.h"

namespace dcgan::distributed::detail {

void die_in_watchdog(const std::string& what, const std::string& reason) {
  log::error(dcgan::str(log::rank_tag(), " NCCL ", what, " failed: ", reason,
                        ". Ending this rank (exit 1). HINT: see the other ranks' logs for the "
                        "first failure; --step-timeout and --comm-timeout set the deadlines"));
  log::flush();
  std::_Exit(1);
}

Watchdog::Watchdog(ncclComm_t comm, std::mutex& nccl_mutex, int device)
    : comm_(comm), nccl_mutex_(nccl_mutex), device_(device), thread_([this] { loop(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

std::shared_ptr<CudaEvent> Watchdog::take_event() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!free_.empty()) {
      std::shared_ptr<CudaEvent> event = std::move(free_.back());
      free_.pop_back();
      return event;
    }
  }
  return std::make_shared<CudaEvent>(device_);
}

void Watchdog::watch(const char* what, size_t bytes, std::shared_ptr<CudaEvent> done,
                     std::chrono::seconds timeout) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back({what, bytes, std::move(done), timeout, Clock::now() + timeout});
  }
  wake_.notify_one();
}

void Watchdog::loop() {
  cudaSetDevice(device_);
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  cudaThreadExchangeStreamCaptureMode(&mode);
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    if (pending_.empty()) {
      wake_.wait(lock, [this] { return stop_ || !pending_.empty(); });
      continue;
    }
    while (!pending_.empty()) {
      Entry& oldest = pending_.front();
      const cudaError_t state = cudaEventQuery(oldest.done->get());
      if (state == cudaErrorNotReady) {
        if (Clock::now() > oldest.deadline) {
          die_in_watchdog(oldest.what,
                          dcgan::str("no completion within ", oldest.timeout.count(), " s (",
                                     oldest.bytes, " bytes); a peer is dead or stuck"));
        }
        break;
      }
      if (state != cudaSuccess) die_in_watchdog(oldest.what, cudaGetErrorString(state));
      if (oldest.done.use_count() == 1) free_.push_back(std::move(oldest.done));
      pending_.pop_front();
    }
    if (!pending_.empty()) check_async_error(pending_.front().what);
    wake_.wait_for(lock, kPollEvery);
  }
}

void Watchdog::check_async_error(const char* what) {
  std::unique_lock<std::mutex> nccl(nccl_mutex_, std::try_to_lock);
  if (!nccl.owns_lock()) return;  // the communicator is inside NCCL; ask at the next poll
  ncclResult_t async = ncclSuccess;
  if (ncclCommGetAsyncError(comm_, &async) != ncclSuccess ||
      (async != ncclSuccess && async != ncclInProgress)) {
    die_in_watchdog(what, dcgan::str("asynchronous NCCL error: ", ncclGetErrorString(async)));
  }
}

}  // namespace dcgan::distributed::detail

#endif  // DCGAN_WITH_NCCL
