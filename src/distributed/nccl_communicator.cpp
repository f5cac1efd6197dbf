// The NCCL backend. CUDA tensors go through NCCL on a stream of its own, ordered after torch's
// current stream by an event, and every wait polls ncclCommGetAsyncError against the deadline: a
// dead or stuck peer ends the job (log, ncclCommAbort, MPI_Abort(1)) instead of hanging it.
// Host tensors go through MPI.
#ifdef DCGAN_WITH_NCCL

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <chrono>
#include <thread>

#include "backends.h"
#include "cuda_handles.h"
#include "dcgan/common/check.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "wire_types.h"

namespace dcgan::distributed::detail {
namespace {

using Clock = std::chrono::steady_clock;
static_assert(sizeof(ncclUniqueId) == NCCL_UNIQUE_ID_BYTES, "ncclUniqueId travels as raw bytes");

// Refuses placements NCCL cannot run (it needs one GPU per rank on a node) and returns the device
// index: the device's own, or local rank modulo the visible GPUs when it has none.
int resolve_device(const MpiSession& session, const torch::Device& device) {
  const int visible = static_cast<int>(torch::cuda::device_count());
  if (session.local_size() > visible) {
    throw UsageError(dcgan::str(
        "rank ", session.rank(), ": ", session.local_size(), " ranks on this node but ", visible,
        " visible GPU(s); NCCL cannot put two ranks on one GPU. HINT: start at most ", visible,
        " rank(s) per node (mpirun -np ", visible, ", srun --ntasks-per-node=", visible,
        "), check CUDA_VISIBLE_DEVICES, or use --backend mpi"));
  }
  const int index =
      device.has_index() ? device.index() : local_cuda_device(session.local_rank()).index();
  if (index >= visible) {
    throw UsageError(dcgan::str("rank ", session.rank(),
                                ": NCCL needs a CUDA device with an index "
                                "below ",
                                visible, ", got ", device.str()));
  }
  return index;
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(const CommConfig& config, const MpiSession& session, int device)
      : rank_(session.rank()),
        world_size_(session.world_size()),
        device_(device),
        timeout_(config.timeout),
        host_(make_mpi_communicator(session, config.timeout)),
        stream_(device_),
        ready_(device_),
        done_(device_),
        comm_(init_comm()) {
    log::info(dcgan::str("NCCL ", NCCL_MAJOR, ".", NCCL_MINOR, ".", NCCL_PATCH,
                         " communicator on cuda:", device_, ", ", world_size_, " rank(s), timeout ",
                         timeout_.count(), " s"));
  }

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  std::string backend_name() const override { return "nccl"; }

  void all_reduce(torch::Tensor& tensor, ReduceOp op) override {
    if (!tensor.is_cuda()) return host_->all_reduce(tensor, op);
    const WireType type = checked(tensor, "all_reduce");
    run("all_reduce", tensor.nbytes(), [&](cudaStream_t stream) {
      return ncclAllReduce(tensor.data_ptr(), tensor.data_ptr(),
                           static_cast<size_t>(tensor.numel()), type.nccl, nccl_op(op), comm_.get(),
                           stream);
    });
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    if (!tensor.is_cuda()) return host_->broadcast(tensor, root);
    if (root < 0 || root >= world_size_) {
      throw Error(dcgan::str(log::rank_tag(), " broadcast: root ", root, " outside [0, ",
                             world_size_, ")"));
    }
    const WireType type = checked(tensor, "broadcast");
    run("broadcast", tensor.nbytes(), [&](cudaStream_t stream) {
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
    run("all_gather", gathered.nbytes(), [&](cudaStream_t stream) {
      return ncclAllGather(in.data_ptr(), gathered.data_ptr(), static_cast<size_t>(in.numel()),
                           type.nccl, comm_.get(), stream);
    });
    out = gathered;
  }

  void synchronize(const char* what) override {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    const cudaStream_t torch_stream = c10::cuda::getCurrentCUDAStream(device_).stream();
    CUDA_CHECK(cudaEventRecord(done_.get(), torch_stream));
    wait_event(what, 0, Clock::now() + timeout_);
  }

  // A one-element NCCL all-reduce: it proves every rank reached this point and that the NCCL
  // communicator still works, under the same deadline as every other wait.
  void barrier() override {
    torch::Tensor token =
        torch::ones({1}, torch::TensorOptions().dtype(torch::kInt32).device(torch::kCUDA, device_));
    all_reduce(token, ReduceOp::kSum);
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
    if (rc != ncclSuccess && rc != ncclInProgress) NCCL_CHECK(rc);
    wait_idle(comm, "ncclCommInitRankConfig", Clock::now() + timeout_);
    return comm;
  }

  // Polls until the communicator has no call in progress; an error or the deadline is fatal.
  void wait_idle(ncclComm_t comm, const char* what, Clock::time_point deadline) {
    for (;;) {
      ncclResult_t state = ncclSuccess;
      const ncclResult_t rc = ncclCommGetAsyncError(comm, &state);
      if (rc != ncclSuccess)
        fail(comm, what, dcgan::str("ncclCommGetAsyncError: ", ncclGetErrorString(rc)));
      if (state == ncclSuccess) return;
      if (state != ncclInProgress) fail(comm, what, ncclGetErrorString(state));
      if (Clock::now() > deadline) fail(comm, what, "timed out while in progress");
      std::this_thread::yield();
    }
  }

  // Enqueues `call` on the NCCL stream after the work already queued on torch's current stream,
  // waits for it with the deadline, and makes torch's stream wait for the result too.
  template <class Call>
  void run(const char* what, size_t bytes, Call&& call) {
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device_));
    const cudaStream_t torch_stream = c10::cuda::getCurrentCUDAStream(device_).stream();
    const Clock::time_point deadline = Clock::now() + timeout_;
    CUDA_CHECK(cudaEventRecord(ready_.get(), torch_stream));
    CUDA_CHECK(cudaStreamWaitEvent(stream_.get(), ready_.get(), 0));
    const ncclResult_t rc = call(stream_.get());
    if (rc != ncclSuccess && rc != ncclInProgress) {
      fail(comm_.get(), what, dcgan::str(ncclGetErrorString(rc), " (", bytes, " bytes)"));
    }
    wait_idle(comm_.get(), what, deadline);
    CUDA_CHECK(cudaEventRecord(done_.get(), stream_.get()));
    CUDA_CHECK(cudaStreamWaitEvent(torch_stream, done_.get(), 0));
    // Inside a CUDA graph capture nothing runs yet and a host wait is illegal: the collective is
    // a node of the graph, and synchronize() after the replay holds the deadline.
    if (capturing(torch_stream)) return;
    wait_event(what, bytes, deadline);
  }

  static bool capturing(cudaStream_t stream) {
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
    return status != cudaStreamCaptureStatusNone;
  }

  // The host waits for done_, polling NCCL for errors: a dead peer never leaves this rank blocked
  // in a CUDA synchronisation that nothing would ever end.
  void wait_event(const char* what, size_t bytes, Clock::time_point deadline) {
    for (;;) {
      const cudaError_t state = cudaEventQuery(done_.get());
      if (state == cudaSuccess) return;
      if (state != cudaErrorNotReady) fail(comm_.get(), what, cudaGetErrorString(state));
      ncclResult_t async = ncclSuccess;
      if (ncclCommGetAsyncError(comm_.get(), &async) != ncclSuccess || async != ncclSuccess) {
        fail(comm_.get(), what, dcgan::str("asynchronous NCCL error: ", ncclGetErrorString(async)));
      }
      if (Clock::now() > deadline) {
        fail(comm_.get(), what,
             dcgan::str("no completion within ", timeout_.count(), " s",
                        bytes > 0 ? dcgan::str(" (", bytes, " bytes)") : std::string(),
                        "; a peer is dead or stuck"));
      }
      std::this_thread::yield();
    }
  }

  // The one way out of a broken collective: peers may be blocked in it, so end every rank.
  [[noreturn]] void fail(ncclComm_t comm, const char* what, const std::string& reason) {
    log::error(dcgan::str(log::rank_tag(), " NCCL ", what, " failed: ", reason,
                          ". Aborting the NCCL communicator and the MPI job (exit 1). HINT: see "
                          "the other ranks' logs for the first failure; --comm-timeout sets the "
                          "deadline"));
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
  std::chrono::seconds timeout_;
  std::unique_ptr<Communicator> host_;
  CudaStream stream_;
  CudaEvent ready_;  // torch's stream reached the collective
  CudaEvent done_;   // the collective finished on the NCCL stream
  NcclComm comm_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const CommConfig& config,
                                                     const MpiSession& session,
                                                     const torch::Device& device) {
  return std::make_unique<NcclCommunicator>(config, session, resolve_device(session, device));
}

}  // namespace dcgan::distributed::detail

#endif  // DCGAN_WITH_NCCL
