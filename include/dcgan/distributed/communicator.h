// Communicator: the one interface the trainer uses to talk across ranks, with an MPI backend
// (CPU tensors) and an NCCL backend (CUDA tensors; host tensors still go through MPI).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace dcgan::distributed {

class MpiSession;

enum class ReduceOp { kSum, kMax, kMin };

// Note [Deadlines by phase]
// A collective's deadline bounds how long a rank waits for its slowest peer, so it must cover the
// longest legitimate gap between the ranks' arrivals. In the training step the ranks arrive within
// a step of each other, so a short deadline (dcgan-train --step-timeout, 60 s by default) finds a
// dead or stuck peer soon: after a node dies, the survivors end and the job is requeued about a
// minute later. The start (NCCL's set-up, loading or importing a checkpoint, the first steps,
// which tune kernels and capture a CUDA graph), a checkpoint (rank 0 writes while the others
// wait), an FD measurement (features, then the distance on rank 0) and the end take longer, and
// keep the long one (--comm-timeout, 600 s). So a communicator's deadline can change
// (set_timeout, TimeoutScope): the trainer starts with the long one, takes the step's after the
// first sync point, and runs each checkpoint, FD measurement, stop and end under the long one,
// closed by a barrier under it, so that no rank meets another's long work under the step's
// deadline. The figures behind the defaults are in docs/running.md ("Deadlines").

// A collective in flight. wait() returns once the result is in the tensor, or, when the
// communicator's deadline (timeout() when it started) passes first, logs the rank and the
// collective and ends the whole job with exit 1: a dead or stuck peer never hangs the others.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  virtual std::string backend_name() const = 0;  // "mpi", "nccl", "local"

  // Every operation is a collective: all ranks call it, in the same order, with tensors of the
  // same shape and dtype. Tensors must be contiguous float32/float64/int32/int64 (Error
  // otherwise). CPU tensors always go through MPI. CUDA tensors go through NCCL with the NCCL
  // backend: on its device and its own stream, ordered after torch's current stream, with torch's
  // stream ordered after it; the call only enqueues (the host never waits), so work queued later
  // on torch's stream, and any host read of the result, sees it. The MPI backend stages CUDA
  // tensors through host memory and returns with the result in place.
  // Every collective has the deadline timeout() held when it started, on every backend: the MPI
  // backend makes non-blocking calls and tests them against it; NCCL's watchdog thread polls each
  // collective's event and ncclCommGetAsyncError. On expiry the rank logs the collective and ends
  // (exit 1).
  // In place.
  virtual void all_reduce(torch::Tensor& tensor, ReduceOp op) = 0;
  // Starts an in-place all-reduce and returns its handle; `tensor` must stay alive and unread
  // until wait(). Collectives still complete in the order they were started. The default runs
  // all_reduce and returns a finished handle: for NCCL that already is the asynchronous start.
  virtual std::unique_ptr<Work> start_all_reduce(torch::Tensor& tensor, ReduceOp op);
  // In place: every rank ends with root's values.
  virtual void broadcast(torch::Tensor& tensor, int root) = 0;
  // Gathers equal-sized contiguous tensors from every rank; `out` is (re)assigned a new tensor of
  // shape [world, *in.shape] on in's device, rank r's tensor at out[r].
  virtual void all_gather(const torch::Tensor& in, torch::Tensor& out) = 0;
  virtual void barrier() = 0;
  // Waits until the device work queued so far on this rank has finished, under the deadline: a
  // replayed CUDA graph's collectives (captured without host waits) then end the job at
  // timeout() like any other. `what` names the work in the failure line. A no-op where every
  // collective already returns complete (MPI, local).
  virtual void synchronize(const char* what) { (void)what; }

  // The deadline of the collectives started from now on and of synchronize(): CommConfig's
  // timeout at first (Note [Deadlines by phase]).
  std::chrono::seconds timeout() const { return timeout_; }
  // Sets it and returns the previous one; a local change, no collective.
  virtual std::chrono::seconds set_timeout(std::chrono::seconds timeout);

 protected:
  Communicator() = default;
  explicit Communicator(std::chrono::seconds timeout) : timeout_(timeout) {}

 private:
  std::chrono::seconds timeout_{600};
};

// Holds `comm`'s deadline at `timeout` for the scope's life, then puts the previous one back.
class TimeoutScope {
 public:
  TimeoutScope(Communicator& comm, std::chrono::seconds timeout)
      : comm_(comm), previous_(comm.set_timeout(timeout)) {}
  ~TimeoutScope() { comm_.set_timeout(previous_); }
  TimeoutScope(const TimeoutScope&) = delete;
  TimeoutScope& operator=(const TimeoutScope&) = delete;

 private:
  Communicator& comm_;
  std::chrono::seconds previous_;
};

struct CommConfig {
  std::string backend = "auto";       // auto | nccl | mpi
  std::chrono::seconds timeout{600};  // the first deadline of every collective and wait
};

// Chooses the backend: "auto" is NCCL when `device` is CUDA and NCCL was compiled in, else MPI.
// Throws UsageError for an unknown backend, a timeout <= 0, "nccl" without a CUDA device or
// without NCCL in the build, (NCCL) two ranks of a node on one GPU, told apart by the GPUs' UUIDs
// so that srun --gpus-per-task=1 (each rank sees only its own GPU) is accepted, or (MPI on CUDA)
// an MPI without MPI_THREAD_SERIALIZED. A CUDA device without an index means
// cuda:<local rank % visible GPUs>. Collective for NCCL (rank 0's unique id
// travels by MPI_Bcast). The communicator must be destroyed before the MpiSession.
std::unique_ptr<Communicator> make_communicator(const CommConfig& config, const MpiSession& session,
                                                const torch::Device& device);

// The local rank whose GPU (by UUID; empty: none) is `local_rank`'s too, or -1 when no other local
// rank shares it.
int local_rank_sharing_gpu(const std::vector<std::string>& gpu_uuids, int local_rank);

// The one local-rank -> GPU mapping: cuda:<local_rank % visible GPUs>. Throws UsageError when no
// CUDA device is visible.
torch::Device local_cuda_device(int local_rank);

// The host waits on collectives this process has made so far, over every communicator: each
// synchronize(), each MPI wait, and each NCCL enqueue that was still in progress. What
// dcgan-train --benchmark reports per step; on NCCL a step between sync points makes none.
int64_t host_wait_count();

// A world-size-1 communicator with no MPI underneath: every operation is the identity. Used by
// tests that need no launcher.
std::unique_ptr<Communicator> make_local_communicator();

// Averages a scalar-like tensor set across ranks on the host: one small float64 all-reduce.
// Returns the per-element mean on the CPU, in values' dtype when it is floating (float64
// otherwise); `values` is read, not modified.
torch::Tensor all_reduce_mean_host(Communicator& comm, const torch::Tensor& values);

}  // namespace dcgan::distributed
