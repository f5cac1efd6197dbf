// The NCCL backend's watchdog: the deadline of every collective in flight (nccl_communicator.cpp).
#pragma once
#ifdef DCGAN_WITH_NCCL

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cuda_handles.h"

namespace dcgan::distributed::detail {

// Logs the collective that failed and ends the process with exit 1, from the watchdog thread,
// which must never call MPI (Note [Sync-BN's collective in backward]): the launcher sees a rank
// exit without MPI_Finalize and ends the others. The NCCL communicator goes with the process.
// Not ncclCommAbort first: it makes the kernels that wait on the dead peer return, and the main
// thread would go on with half-reduced tensors (as far as a checkpoint) before the exit.
[[noreturn]] void die_in_watchdog(const std::string& what, const std::string& reason);

// Each enqueued collective hands over an event recorded after it on the NCCL stream, with its
// deadline; the thread polls the oldest events (collectives on one stream end in order) and the
// communicator's asynchronous error every kPollEvery. A collective past its deadline or an NCCL
// error ends the process. Collectives enqueued while a CUDA graph is being captured are not
// watched: their events are nodes of the graph, and querying them would invalidate the capture;
// Communicator::synchronize() after the replays holds their deadline. The thread itself runs in
// relaxed capture mode, so its queries are legal while the main thread captures. `nccl_mutex` is
// the communicator's: ncclCommGetAsyncError completes a non-blocking communicator's pending group
// job, which must not race an enqueue, so the watchdog only asks when the communicator is not
// inside NCCL. Events come back to a pool when their collective is done and no Work holds them
// any more.
class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kPollEvery = std::chrono::milliseconds(2);

  Watchdog(ncclComm_t comm, std::mutex& nccl_mutex, int device);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // An event for the next collective: from the pool, or new.
  std::shared_ptr<CudaEvent> take_event();

  // `done` was recorded after the collective `what` on the NCCL stream, which must complete
  // within `timeout` from now.
  void watch(const char* what, size_t bytes, std::shared_ptr<CudaEvent> done,
             std::chrono::seconds timeout);

 private:
  struct Entry {
    const char* what;
    size_t bytes;
    std::shared_ptr<CudaEvent> done;
    std::chrono::seconds timeout;
    Clock::time_point deadline;
  };

  void loop();
  void check_async_error(const char* what);

  ncclComm_t comm_;
  std::mutex& nccl_mutex_;
  int device_;
  std::mutex mutex_;  // guards everything below
  std::condition_variable wake_;
  std::deque<Entry> pending_;
  std::vector<std::shared_ptr<CudaEvent>> free_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace dcgan::distributed::detail

#endif  // DCGAN_WITH_NCCL
