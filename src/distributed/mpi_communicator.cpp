// The MPI backend: in-place collectives on MPI_COMM_WORLD. It serves CPU runs and CI; CUDA
// tensors are staged through host memory so `--backend mpi` still works on a GPU, slowly.
//
// Every collective is a non-blocking MPI call (MPI_Iallreduce, MPI_Ibcast, MPI_Iallgather,
// MPI_Ibarrier) waited with MPI_Testall against the communicator's deadline, on the calling thread
// (no watchdog thread may call MPI; see Note [Sync-BN's collective in backward] for the one
// other thread that does, autograd's, while the main thread waits in backward()). A peer that is
// dead or stopped (SIGSTOP, a hung file system) therefore ends the job: this rank logs the
// collective it was waiting for and calls MPI_Abort(1).
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <thread>
#include <vector>

#include "backends.h"
#include "dcgan/common/check.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "wire_types.h"

namespace dcgan::distributed::detail {
namespace {

using Clock = std::chrono::steady_clock;

// MPI counts are int; larger tensors go in chunks of at most this many elements.
constexpr int64_t kMaxChunkElements = INT_MAX;
// Tests spin this long before they start sleeping between tests: short collectives return at
// MPI's own latency, long waits leave the core to the peer ranks on the same node.
constexpr auto kSpinFor = std::chrono::milliseconds(1);
constexpr auto kPollEvery = std::chrono::microseconds(50);

// What a wait is for, for the one line that names a collective that timed out.
struct Pending {
  const char* what = "";  // all_reduce, broadcast, all_gather, barrier
  int64_t count = 0;      // elements
  c10::ScalarType dtype = c10::ScalarType::Undefined;
  int64_t sequence = 0;             // the how-many-th collective of this communicator (1-based)
  std::chrono::seconds timeout{0};  // its deadline, from its start
};

class MpiCommunicator;

// Requests of one collective; wait() tests them against the deadline, then copies a staged
// result back to the caller's (CUDA) tensor.
class MpiWork final : public Work {
 public:
  MpiWork(MpiCommunicator& comm, Pending pending, std::vector<MPI_Request> requests,
          torch::Tensor staged, torch::Tensor target)
      : comm_(comm),
        pending_(pending),
        requests_(std::move(requests)),
        staged_(std::move(staged)),
        target_(std::move(target)),
        deadline_(Clock::now()) {}
  ~MpiWork() override {
    if (!done_) wait();  // MPI still owns the buffers until the requests complete
  }
  MpiWork(const MpiWork&) = delete;
  MpiWork& operator=(const MpiWork&) = delete;
  void start_clock(std::chrono::seconds timeout) { deadline_ = Clock::now() + timeout; }
  void wait() override;

 private:
  MpiCommunicator& comm_;
  Pending pending_;
  std::vector<MPI_Request> requests_;
  torch::Tensor staged_;  // the host copy of a CUDA tensor, or undefined
  torch::Tensor target_;
  Clock::time_point deadline_;
  bool done_ = false;
};

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(const MpiSession& session, std::chrono::seconds timeout)
      : Communicator(timeout), rank_(session.rank()), world_size_(session.world_size()) {}

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  std::string backend_name() const override { return "mpi"; }

  std::unique_ptr<Work> start_all_reduce(torch::Tensor& tensor, ReduceOp op) override {
    return start_in_place("all_reduce", tensor,
                          [&](void* data, int count, MPI_Datatype type, MPI_Request* request) {
                            return MPI_Iallreduce(MPI_IN_PLACE, data, count, type, mpi_op(op),
                                                  MPI_COMM_WORLD, request);
                          });
  }

  void all_reduce(torch::Tensor& tensor, ReduceOp op) override {
    start_all_reduce(tensor, op)->wait();
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    if (root < 0 || root >= world_size_) {
      throw Error(dcgan::str(log::rank_tag(), " broadcast: root ", root, " outside [0, ",
                             world_size_, ")"));
    }
    start_in_place("broadcast", tensor,
                   [&](void* data, int count, MPI_Datatype type, MPI_Request* request) {
                     return MPI_Ibcast(data, count, type, root, MPI_COMM_WORLD, request);
                   })
        ->wait();
  }

  void all_gather(const torch::Tensor& in, torch::Tensor& out) override {
    require_contiguous(in, "all_gather");
    const WireType type = wire_type(in.scalar_type(), "all_gather");
    if (in.numel() > kMaxChunkElements) {
      throw Error(dcgan::str(log::rank_tag(), " all_gather: ", in.numel(),
                             " elements exceed MPI's int count"));
    }
    torch::Tensor host_in = in.to(torch::kCPU);
    std::vector<int64_t> shape{world_size_};
    shape.insert(shape.end(), in.sizes().begin(), in.sizes().end());
    torch::Tensor host_out = torch::empty(shape, host_in.options());
    std::vector<MPI_Request> requests(1);
    MPI_CHECK(MPI_Iallgather(host_in.data_ptr(), static_cast<int>(in.numel()), type.mpi,
                             host_out.data_ptr(), static_cast<int>(in.numel()), type.mpi,
                             MPI_COMM_WORLD, &requests[0]));
    started("all_gather", host_out, std::move(requests), torch::Tensor())->wait();
    out = host_out.to(in.device());
  }

  void barrier() override {
    std::vector<MPI_Request> requests(1);
    MPI_CHECK(MPI_Ibarrier(MPI_COMM_WORLD, &requests[0]));
    torch::Tensor none;
    started("barrier", none, std::move(requests), torch::Tensor())->wait();
  }

  // The one way out of a collective that missed its deadline: the peers may be blocked in it
  // too, so end every rank.
  [[noreturn]] void fail(const Pending& p) const {
    log::error(dcgan::str(  // the log line's prefix names the rank
        "MPI ", p.what,
        p.count > 0 ? dcgan::str(" of ", p.count, " ", c10::toString(p.dtype), " values") : "",
        " (collective #", p.sequence, ") did not complete within ", p.timeout.count(),
        " s: a peer is dead or stuck. Aborting the MPI job (exit 1). HINT: see the other ranks' "
        "logs for the first failure; --step-timeout and --comm-timeout set the deadlines"));
    log::flush();
    MPI_Abort(MPI_COMM_WORLD, 1);
    std::_Exit(1);  // MPI_Abort does not return
  }

 private:
  std::unique_ptr<MpiWork> started(const char* what, const torch::Tensor& tensor,
                                   std::vector<MPI_Request> requests, torch::Tensor staged) {
    Pending pending;
    pending.what = what;
    pending.count = tensor.defined() ? tensor.numel() : 0;
    pending.dtype = tensor.defined() ? tensor.scalar_type() : c10::ScalarType::Undefined;
    pending.sequence = ++sequence_;
    pending.timeout = timeout();
    auto work =
        std::make_unique<MpiWork>(*this, pending, std::move(requests), std::move(staged), tensor);
    work->start_clock(pending.timeout);
    return work;
  }

  // Starts one in-place collective per chunk of at most INT_MAX elements (MPI counts are int)
  // on the tensor, or on a host copy of a CUDA tensor that wait() copies back.
  template <class Post>
  std::unique_ptr<MpiWork> start_in_place(const char* what, torch::Tensor& tensor, Post&& post) {
    require_contiguous(tensor, what);
    const WireType type = wire_type(tensor.scalar_type(), what);
    torch::Tensor host = tensor.is_cpu() ? tensor : tensor.to(torch::kCPU);
    auto* bytes = static_cast<char*>(host.data_ptr());
    std::vector<MPI_Request> requests;
    for (int64_t done = 0; done < host.numel();) {
      const int64_t count = std::min<int64_t>(kMaxChunkElements, host.numel() - done);
      requests.emplace_back();
      MPI_CHECK(post(bytes + done * static_cast<int64_t>(type.element_bytes),
                     static_cast<int>(count), type.mpi, &requests.back()));
      done += count;
    }
    return started(what, tensor, std::move(requests), tensor.is_cpu() ? torch::Tensor() : host);
  }

  int rank_;
  int world_size_;
  int64_t sequence_ = 0;
};

void MpiWork::wait() {
  if (done_) return;
  count_host_wait();
  const Clock::time_point spin_until = Clock::now() + kSpinFor;
  for (;;) {
    int complete = 0;
    MPI_CHECK(MPI_Testall(static_cast<int>(requests_.size()), requests_.data(), &complete,
                          MPI_STATUSES_IGNORE));
    if (complete != 0) break;
    const Clock::time_point now = Clock::now();
    if (now > deadline_) comm_.fail(pending_);
    if (now < spin_until) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(kPollEvery);
    }
  }
  done_ = true;
  if (staged_.defined()) target_.copy_(staged_);
}

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const MpiSession& session,
                                                    std::chrono::seconds timeout) {
  return std::make_unique<MpiCommunicator>(session, timeout);
}

}  // namespace dcgan::distributed::detail
