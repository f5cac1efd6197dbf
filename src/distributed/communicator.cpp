// Backend choice, the local-rank -> GPU mapping, the single-rank local communicator, and host-side
// metric averaging.
#include "dcgan/distributed/communicator.h"

#include <atomic>
#include <utility>

#include "backends.h"
#include "dcgan/common/cuda_library.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "dcgan/distributed/mpi_session.h"
#include "wire_types.h"

namespace dcgan::distributed {
namespace {

std::atomic<int64_t> g_host_waits{0};

// World size 1 without MPI: reductions and broadcasts leave the tensor as it is. It still checks
// its arguments like the real backends, so a test with it catches what MPI would refuse.
class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  std::string backend_name() const override { return "local"; }

  void all_reduce(torch::Tensor& tensor, ReduceOp /*op*/) override {
    detail::require_contiguous(tensor, "all_reduce");
    detail::wire_type(tensor.scalar_type(), "all_reduce");
  }
  void broadcast(torch::Tensor& tensor, int root) override {
    detail::require_contiguous(tensor, "broadcast");
    detail::wire_type(tensor.scalar_type(), "broadcast");
    if (root != 0) throw Error(dcgan::str("broadcast: root ", root, " outside [0, 1)"));
  }
  void all_gather(const torch::Tensor& in, torch::Tensor& out) override {
    detail::require_contiguous(in, "all_gather");
    detail::wire_type(in.scalar_type(), "all_gather");
    out = in.unsqueeze(0).clone();
  }
  void barrier() override {}
};

}  // namespace

int64_t host_wait_count() { return g_host_waits.load(std::memory_order_relaxed); }

void detail::count_host_wait() { g_host_waits.fetch_add(1, std::memory_order_relaxed); }

int local_rank_sharing_gpu(const std::vector<std::string>& gpu_uuids, int local_rank) {
  const std::string& mine = gpu_uuids.at(static_cast<size_t>(local_rank));
  if (mine.empty()) return -1;
  for (size_t r = 0; r < gpu_uuids.size(); ++r) {
    if (static_cast<int>(r) != local_rank && gpu_uuids[r] == mine) return static_cast<int>(r);
  }
  return -1;
}

std::unique_ptr<Communicator> make_local_communicator() {
  return std::make_unique<LocalCommunicator>();
}

std::chrono::seconds Communicator::set_timeout(std::chrono::seconds timeout) {
  return std::exchange(timeout_, timeout);
}

std::unique_ptr<Communicator> make_communicator(const CommConfig& config, const MpiSession& session,
                                                const torch::Device& device) {
  const std::string& backend = config.backend;
  if (backend != "auto" && backend != "nccl" && backend != "mpi") {
    throw UsageError(dcgan::str("--backend: '", backend, "' is not one of auto, nccl, mpi"));
  }
  if (config.timeout.count() <= 0) {
    throw UsageError(
        dcgan::str("--comm-timeout: must be positive, got ", config.timeout.count(), " s"));
  }
#ifdef DCGAN_WITH_NCCL
  constexpr bool kHaveNccl = true;
#else
  constexpr bool kHaveNccl = false;
#endif
  const bool want_nccl = backend == "nccl" || (backend == "auto" && device.is_cuda() && kHaveNccl);
  if (want_nccl && !device.is_cuda()) {
    throw UsageError(dcgan::str("--backend nccl needs a CUDA device, but the run uses ",
                                device.str(), ". HINT: use --backend mpi (or auto) for CPU runs"));
  }
  if (want_nccl && !kHaveNccl) {
    throw UsageError(
        "--backend nccl: this build has no NCCL. HINT: rebuild with NCCL found "
        "(cmake -DNCCL_ROOT=...) or use --backend mpi");
  }
  if (want_nccl) {
    const auto* nccl = static_cast<const detail::NcclPart*>(cuda_library::part(detail::kNcclPart));
    if (nccl == nullptr) {
      throw Error(
          "--backend nccl: the CUDA library is not loaded (the device was not chosen by "
          "train::choose_device)");
    }
    return nccl->make(config, session, device);
  }
  if (device.is_cuda() && !session.thread_serialized()) {
    throw UsageError(
        "--backend mpi on a CUDA device needs MPI_THREAD_SERIALIZED (autograd's device thread "
        "makes MPI calls during backward), which this MPI did not grant. HINT: use --backend "
        "nccl, or an MPI built with thread support");
  }
  return detail::make_mpi_communicator(session, config.timeout);
}

namespace {
class DoneWork final : public Work {
 public:
  void wait() override {}
};
}  // namespace

std::unique_ptr<Work> Communicator::start_all_reduce(torch::Tensor& tensor, ReduceOp op) {
  all_reduce(tensor, op);
  return std::make_unique<DoneWork>();
}

torch::Tensor all_reduce_mean_host(Communicator& comm, const torch::Tensor& values) {
  // float64 on the host: a handful of metrics, summed exactly enough that every rank logs the same.
  torch::Tensor sum = values.detach().to(torch::kCPU, torch::kFloat64).contiguous().clone();
  comm.all_reduce(sum, ReduceOp::kSum);
  sum.div_(static_cast<double>(comm.world_size()));
  return values.is_floating_point() ? sum.to(values.scalar_type()) : sum;
}

torch::Device local_cuda_device(int local_rank) {
  const int visible = static_cast<int>(torch::cuda::device_count());
  if (visible < 1) {
    throw UsageError("--device cuda: no CUDA device is visible HINT: use --device cpu or auto");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank % visible));
}

}  // namespace dcgan::distributed
