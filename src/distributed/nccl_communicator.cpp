// The NCCL backend. CUDA tensors go through NCCL on a stream of its own: each collective waits on
// an event of torch's current stream, and torch's stream waits on the collective's event, so the
// caller's later work sees the result and the host never waits (as DDP's reducer and
// ProcessGroupNCCL do it). The deadline lives in a watchdog thread that polls each collective's
// event and ncclCommGetAsyncError: a dead or stuck peer ends the job (log, ncclCommAbort, exit 1)
// instead of hanging it. Host tensors go through MPI.
#ifdef DCGAN_WITH_NCCL

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <c10/cuda/CUDACachingAllocator.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "backends.h"
#include "cuda_handles.h"
#include "dcgan/common/check.h"
#include "dcgan/common/cuda_library.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "nccl_watchdog.h"
#include "wire_types.h"

namespace dcgan::distributed::detail {
namespace {

using Clock = Watchdog::Clock;
static_assert(sizeof(ncclUniqueId) == NCCL_UNIQUE_ID_BYTES, "ncclUniqueId travels as raw bytes");

// The GPU's UUID as 32 hex digits: what tells two local ranks' devices apart when each rank sees
// a different set (srun --gpus-per-task=1 shows every rank its own GPU as cuda:0).
std::string device_uuid(int index) {
  const cudaDeviceProp* prop = at::cuda::getDeviceProperties(static_cast<c10::DeviceIndex>(index));
  static_assert(sizeof(prop->uuid.bytes) == 16, "cudaUUID_t holds 16 bytes");
  std::string hex;
  for (const char byte : prop->uuid.bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    const auto b = static_cast<unsigned char>(byte);
    hex += kDigits[b >> 4];
    hex += kDigits[b & 15];
  }
  return hex;
}

// Refuses placements NCCL cannot run (two ranks on one GPU) and returns the device index: the
// device's own, or local rank modulo the visible GPUs when it has none. Collective over the node
// (the GPUs' UUIDs are gathered before any refusal, so every local rank takes part).
int resolve_device(const MpiSession& session, const torch::Device& device) {
  const int visible = static_cast<int>(torch::cuda::device_count());
  int index = -1;
  std::string uuid;  // empty: no usable device on this rank
  if (visible > 0) {
    index = device.has_index() ? device.index() : local_cuda_device(session.local_rank()).index();
    if (index < visible) uuid = device_uuid(index);
  }
  // Every rank takes part, one alone on its node too: the gather splits the world.
  const std::vector<std::string> uuids = session.all_gather_on_node(uuid);
  const int other = local_rank_sharing_gpu(uuids, session.local_rank());
  if (visible == 0 || other >= 0) {
    throw UsageError(dcgan::str(
        "rank ", session.rank(), ": ", session.local_size(), " ranks on this node but ", visible,
        " visible GPU(s)",
        other >= 0 ? dcgan::str(" (local ranks ", session.local_rank(), " and ", other,
                                " would share GPU ", uuid, ")")
                   : std::string(),
        "; NCCL cannot put two ranks on one GPU. HINT: start at most one rank per GPU (mpirun -np ",
        std::max(visible, 1), ", srun --ntasks-per-node=", std::max(visible, 1),
        " or --gpus-per-task=1), check CUDA_VISIBLE_DEVICES, or use --backend mpi"));
  }
  if (index >= visible) {
    throw UsageError(dcgan::str("rank ", session.rank(),
                                ": NCCL needs a CUDA device with an index "
                                "below ",
                                visible, ", got ", device.str()));
  }
  return index;
}

// A bucket's all-reduce in flight (start_all_reduce): wait() makes the caller's current stream
// wait for it on the device, as DDP's reducer does before the optimizer. No host wait.
class NcclWork final : public Work {
 public:
  NcclWork(std::shared_ptr<CudaEvent> owned, cudaEvent_t done, int device)
      : owned_(std::move(owned)), done_(done), device_(device) {}
  void wait() override {
    const cudaStream_t stream = c10::cuda::getCurrentCUDAStream(device_).stream();
    CUDA_CHECK(cudaStreamWaitEvent(stream, done_, 0));
  }

 private:
  std::shared_ptr<CudaEvent> owned_;  // null while capturing (done_ is then the communicator's)
  cudaEvent_t done_;
  int device_;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(const CommConfig& config, const MpiSession& session, int device)
      : Communicator(config.timeout),
        rank_(session.rank()),
        world_size_(session.world_size()),
        device_(device),
        host_(make_mpi_communicator(session, config.timeout)),
        stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/true,
                                             static_cast<c10::DeviceIndex>(device_))),
        ready_(device_),
        done_(device_),
        comm_(init_comm()),
        watchdog_(comm_.get(), nccl_mutex_, device_) {
    log::info(dcgan::str("NCCL ", NCCL_MAJOR, ".", NCCL_MINOR, ".", NCCL_PATCH,
                         " communicator on cuda:", device_, ", ", world_size_, " rank(s), timeout ",
                         timeout().count(), " s"));
  }

  // What is still in flight on the NCCL stream finishes (or misses the deadline) before the
  // watchdog stops and the communicator is aborted. A local wait, no collective and no MPI.
  ~NcclCommunicator() override {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    if (cudaEventRecord(done_.get(), stream_.stream()) != cudaSuccess) return;
    const Clock::time_point deadline = Clock::now() + timeout();
    while (cudaEventQuery(done_.get()) == cudaErrorNotReady && Clock::now() < deadline)
      std::this_thread::sleep_for(Watchdog::kPollEvery);
  }
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  // Host tensors' collectives, through MPI, keep the same deadline.
  std::chrono::seconds set_timeout(std::chrono::seconds timeout) override {
    host_->set_timeout(timeout);
    return Communicator::set_timeout(timeout);
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  std::string backend_name() const override { return "nccl"; }

  void all_reduce(torch::Tensor& tensor, ReduceOp op) override {
    if (!tensor.is_cuda()) return host_->all_reduce(tensor, op);
    std::unique_ptr<Work> work = start_all_reduce(tensor, op);
    work->wait();
  }

  // Enqueued now; the caller's stream waits for it only at wait(), so a bucket started from
  // backward's hook runs while backward goes on.
  std::unique_ptr<Work> start_all_reduce(torch::Tensor& tensor, ReduceOp op) override {
    if (!tensor.is_cuda()) return host_->start_all_reduce(tensor, op);
    const WireType type = checked(tensor, "all_reduce");
    Enqueued e = enqueue("all_reduce", tensor.nbytes(), {tensor}, [&](cudaStream_t stream) {
      return ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(),
                           static_cast<size_t>(tensor.numel()), type.nccl, nccl_op(op), comm_.get(),
                           stream);
    });
    return std::make_unique<NcclWork>(std::move(e.owned), e.done, device_);
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    if (!tensor.is_cuda()) return host_->broadcast(tensor, root);
    if (root < 0 || root >= world_size_) {
      throw Error(dcgan::str(log::rank_tag(), " broadcast: root ", root, " outside [0, ",
                             world_size_, ")"));
    }
    const WireType type = checked(tensor, "broadcast");
    run("broadcast", tensor.nbytes(), {tensor}, [&](cudaStream_t stream) {
      return ncclBroadcast(tensor.data_ptr(), tensor.data_ptr(),
                           static_cast<size_t>(tensor.numel()), type.nccl, root, comm_.get(),
                           stream);
    });
  }

  void all_gather(const torch::Tensor& in, torch::Tensor& out) override {
    if (!in.is_cuda()) return host_->all_gather(in, out);
    const WireType type = checked(in, "all_gather");
    std::vector<int64_t> shape{world_size_};
    shape.insert(shape.end(), in.sizes().begin(), in.sizes().end());
    torch::Tensor gathered = torch::empty(shape, in.options());
    run("all_gather", gathered.nbytes(), {in, gathered}, [&](cudaStream_t stream) {
      return ncclAllGather(in.data_ptr(), gathered.data_ptr(), static_cast<size_t>(in.numel()),
                           type.nccl, comm_.get(), stream);
    });
    out = gathered;
  }

  // The host waits for the work queued on torch's stream, polling NCCL for errors: a dead peer
  // never leaves this rank blocked in a CUDA synchronisation that nothing would ever end.
  void synchronize(const char* what) override {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    const cudaStream_t torch_stream = c10::cuda::getCurrentCUDAStream(device_).stream();
    CUDA_CHECK(cudaEventRecord(done_.get(), torch_stream));
    const Clock::time_point deadline = Clock::now() + timeout();
    count_host_wait();
    for (;;) {
      const cudaError_t state = cudaEventQuery(done_.get());
      if (state == cudaSuccess) return;
      if (state != cudaErrorNotReady) fail(comm_.get(), what, cudaGetErrorString(state));
      ncclResult_t async = ncclSuccess;
      {
        std::lock_guard<std::mutex> nccl(nccl_mutex_);
        if (ncclCommGetAsyncError(comm_.get(), &async) != ncclSuccess ||
            (async != ncclSuccess && async != ncclInProgress)) {
          fail(comm_.get(), what,
               dcgan::str("asynchronous NCCL error: ", ncclGetErrorString(async)));
        }
      }
      if (Clock::now() > deadline) {
        fail(comm_.get(), what,
             dcgan::str("no completion within ", timeout().count(), " s; a peer is dead or stuck"));
      }
      std::this_thread::yield();
    }
  }

  // A one-element NCCL all-reduce, waited for: it proves every rank reached this point and that
  // the NCCL communicator still works, under the same deadline as every other wait.
  void barrier() override {
    torch::Tensor token =
        torch::ones({1}, torch::TensorOptions().dtype(torch::kInt32).device(torch::kCUDA, device_));
    all_reduce(token, ReduceOp::kSum);
    synchronize("barrier");
  }

 private:
  WireType checked(const torch::Tensor& tensor, const char* what) const {
    require_contiguous(tensor, what);
    if (tensor.device().index() != device_) {
      throw Error(dcgan::str(log::rank_tag(), " ", what, ": tensor on ", tensor.device(),
                             " but this rank's NCCL communicator is on cuda:", device_));
    }
    return wire_type(tensor.scalar_type(), what);
  }

  ncclComm_t init_comm() {
    ncclUniqueId id{};
    if (rank_ == 0) NCCL_CHECK(ncclGetUniqueId(&id));
    MPI_CHECK(MPI_Bcast(&id, NCCL_UNIQUE_ID_BYTES, MPI_BYTE, 0, MPI_COMM_WORLD));
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;  // every call returns at once; wait_idle() polls with a deadline
    ncclComm_t comm = nullptr;
    const ncclResult_t rc = ncclCommInitRankConfig(&comm, world_size_, id, rank_, &config);
    // No watchdog yet: the init's own wait holds the deadline.
    if (rc != ncclSuccess && rc != ncclInProgress) NCCL_CHECK(rc);
    wait_idle(comm, "ncclCommInitRankConfig", Clock::now() + timeout());
    return comm;
  }

  // Polls until the communicator has no call in progress (a non-blocking communicator may return
  // before the enqueue is complete); an error or the deadline is fatal. Counted as a host wait
  // only when it had to wait.
  void wait_idle(ncclComm_t comm, const char* what, Clock::time_point deadline) {
    for (bool counted = false;; counted = true) {
      ncclResult_t state = ncclSuccess;
      const ncclResult_t rc = ncclCommGetAsyncError(comm, &state);
      if (rc != ncclSuccess)
        fail(comm, what, dcgan::str("ncclCommGetAsyncError: ", ncclGetErrorString(rc)));
      if (state == ncclSuccess) return;
      if (!counted) count_host_wait();
      if (state != ncclInProgress) fail(comm, what, ncclGetErrorString(state));
      if (Clock::now() > deadline) fail(comm, what, "timed out while in progress");
      std::this_thread::yield();
    }
  }

  struct Enqueued {
    std::shared_ptr<CudaEvent> owned;  // null while capturing
    cudaEvent_t done;                  // recorded after the collective on the NCCL stream
  };

  // Enqueues `call` on the NCCL stream after the work already queued on torch's current stream:
  // no host wait. `tensors` are marked as used on the NCCL stream, so the caching allocator never
  // hands their memory out before the collective is done. The watchdog holds the deadline; while
  // torch's stream is being captured into a CUDA graph the collective is a node of the graph
  // (its event the communicator's own, whose latest record covers every earlier collective on the
  // one NCCL stream), and synchronize() after the replay holds the deadline.
  template <class Call>
  Enqueued enqueue(const char* what, size_t bytes, std::initializer_list<torch::Tensor> tensors,
                   Call&& call) {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    const cudaStream_t torch_stream = c10::cuda::getCurrentCUDAStream(device_).stream();
    Enqueued e;
    if (!capturing(torch_stream)) e.owned = watchdog_.take_event();
    e.done = e.owned ? e.owned->get() : done_.get();
    CUDA_CHECK(cudaEventRecord(ready_.get(), torch_stream));
    CUDA_CHECK(cudaStreamWaitEvent(stream_.stream(), ready_.get(), 0));
    {
      std::lock_guard<std::mutex> nccl(nccl_mutex_);
      const ncclResult_t rc = call(stream_.stream());
      if (rc != ncclSuccess && rc != ncclInProgress) {
        fail(comm_.get(), what, dcgan::str(ncclGetErrorString(rc), " (", bytes, " bytes)"));
      }
      wait_idle(comm_.get(), what, Clock::now() + timeout());
    }
    CUDA_CHECK(cudaEventRecord(e.done, stream_.stream()));
    for (const torch::Tensor& t : tensors)
      c10::cuda::CUDACachingAllocator::recordStream(t.storage().data_ptr(), stream_);
    if (e.owned) watchdog_.watch(what, bytes, e.owned, timeout());
    return e;
  }

  // enqueue(), and torch's current stream waits for the collective on the device.
  template <class Call>
  void run(const char* what, size_t bytes, std::initializer_list<torch::Tensor> tensors,
           Call&& call) {
    const Enqueued e = enqueue(what, bytes, tensors, std::forward<Call>(call));
    const cudaStream_t torch_stream = c10::cuda::getCurrentCUDAStream(device_).stream();
    CUDA_CHECK(cudaStreamWaitEvent(torch_stream, e.done, 0));
  }

  static bool capturing(cudaStream_t stream) {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
    return status != cudaStreamCaptureStatusNone;
  }

  // The one way out of a broken collective: peers may be blocked in it, so end every rank.
  [[noreturn]] void fail(ncclComm_t comm, const char* what, const std::string& reason) {
    log::error(dcgan::str(log::rank_tag(), " NCCL ", what, " failed: ", reason,
                          ". Aborting the NCCL communicator and the MPI job (exit 1). HINT: see "
                          "the other ranks' logs for the first failure; --step-timeout and "
                          "--comm-timeout set the deadlines"));
    log::flush();
    // Directly, not through comm_ (which may not be constructed yet during init); no destructor
    // runs after MPI_Abort, so nothing aborts twice.
    if (comm != nullptr) ncclCommAbort(comm);
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);  // MPI_Abort does not return
  }

  int rank_;
  int world_size_;
  int device_;
  std::unique_ptr<Communicator> host_;
  // The NCCL stream: high priority, from c10's pool, which never destroys it, so tensors whose
  // memory recordStream marked with it may outlive this communicator.
  c10::cuda::CUDAStream stream_;
  CudaEvent ready_;        // torch's stream reached the collective
  CudaEvent done_;         // synchronize(), and a collective enqueued while capturing
  std::mutex nccl_mutex_;  // held inside NCCL calls (see Watchdog)
  NcclComm comm_;
  Watchdog watchdog_;  // after comm_: it stops before the communicator is aborted
};

std::unique_ptr<Communicator> make_nccl_communicator(const CommConfig& config,
                                                     const MpiSession& session,
                                                     const torch::Device& device) {
  return std::make_unique<NcclCommunicator>(config, session, resolve_device(session, device));
}

// Provided when the CUDA library loads (backends.h).
const NcclPart kPart{&make_nccl_communicator};
const bool kProvided = (cuda_library::provide(kNcclPart, &kPart), true);

}  // namespace

}  // namespace dcgan::distributed::detail

#endif  // DCGAN_WITH_NCCL
