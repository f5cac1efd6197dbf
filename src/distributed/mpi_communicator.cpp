// The MPI backend: in-place MPI collectives on MPI_COMM_WORLD. It serves CPU runs and CI; CUDA
// tensors are staged through host memory so `--backend mpi` still works on a GPU, slowly.
#include <algorithm>
#include <climits>

#include "backends.h"
#include "dcgan/common/check.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "wire_types.h"

namespace dcgan::distributed::detail {
namespace {

// MPI counts are int; larger tensors go in chunks of at most this many elements.
constexpr int64_t kMaxChunkElements = INT_MAX;

class MpiCommunicator final : public Communicator {
 public:
  explicit MpiCommunicator(const MpiSession& session)
      : rank_(session.rank()), world_size_(session.world_size()) {}

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  std::string backend_name() const override { return "mpi"; }

  void all_reduce(torch::Tensor& tensor, ReduceOp op) override {
    on_host(tensor, "all_reduce", [&](torch::Tensor& host) {
      const WireType type = wire_type(host.scalar_type(), "all_reduce");
      for_each_chunk(host, type, [&](void* data, int count) {
        MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, data, count, type.mpi, mpi_op(op), MPI_COMM_WORLD));
      });
    });
  }

  void broadcast(torch::Tensor& tensor, int root) override {
    check_root(root);
    on_host(tensor, "broadcast", [&](torch::Tensor& host) {
      const WireType type = wire_type(host.scalar_type(), "broadcast");
      for_each_chunk(host, type, [&](void* data, int count) {
        MPI_CHECK(MPI_Bcast(data, count, type.mpi, root, MPI_COMM_WORLD));
      });
    });
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
    MPI_CHECK(MPI_Allgather(host_in.data_ptr(), static_cast<int>(in.numel()), type.mpi,
                            host_out.data_ptr(), static_cast<int>(in.numel()), type.mpi,
                            MPI_COMM_WORLD));
    out = host_out.to(in.device());
  }

  void barrier() override { MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); }

 private:
  void check_root(int root) const {
    if (root < 0 || root >= world_size_) {
      throw Error(dcgan::str(log::rank_tag(), " broadcast: root ", root, " outside [0, ",
                             world_size_, ")"));
    }
  }

  // Runs `body` on a contiguous CPU tensor holding `tensor`'s data and writes the result back
  // when `tensor` lives elsewhere.
  template <class Body>
  void on_host(torch::Tensor& tensor, const char* what, Body&& body) {
    require_contiguous(tensor, what);
    if (tensor.device().is_cpu()) {
      body(tensor);
      return;
    }
    torch::Tensor host = tensor.to(torch::kCPU);
    body(host);
    tensor.copy_(host);
  }

  template <class Call>
  static void for_each_chunk(torch::Tensor& host, const WireType& type, Call&& call) {
    auto* bytes = static_cast<char*>(host.data_ptr());
    for (int64_t done = 0; done < host.numel();) {
      const int64_t count = std::min<int64_t>(kMaxChunkElements, host.numel() - done);
      call(bytes + done * static_cast<int64_t>(type.element_bytes), static_cast<int>(count));
      done += count;
    }
  }

  int rank_;
  int world_size_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const MpiSession& session) {
  return std::make_unique<MpiCommunicator>(session);
}

}  // namespace dcgan::distributed::detail
