// Replica synchronisation and the consistency guard (see module_sync.h).
#include "dcgan/distributed/module_sync.h"

#include <cstring>
#include <vector>

#include "dcgan/common/errors.h"
#include "dcgan/common/hash.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"

namespace dcgan::distributed {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<torch::Tensor> bn_running_stats(torch::nn::Module& module) {
  std::vector<torch::Tensor> stats;
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    const bool is_stat =
        ends_with(item.key(), "running_mean") || ends_with(item.key(), "running_var");
    if (is_stat && item.value().is_floating_point()) stats.push_back(item.value());
  }
  return stats;
}

void broadcast_module(torch::nn::Module& module, Communicator& comm, int root) {
  torch::NoGradGuard no_grad;
  auto send = [&](torch::Tensor tensor) {
    if (!tensor.defined()) return;
    if (tensor.is_contiguous()) {
      comm.broadcast(tensor, root);
      return;
    }
    // Another layout (channels-last): the collective takes a contiguous copy, in logical order.
    torch::Tensor staged = tensor.contiguous();
    comm.broadcast(staged, root);
    tensor.copy_(staged);
  };
  for (const auto& item : module.named_parameters(/*recurse=*/true)) send(item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/true)) send(item.value());
}

uint64_t tensor_checksum(const torch::Tensor& tensor, uint64_t hash) {
  const torch::Tensor host = tensor.detach().to(torch::kCPU).contiguous();
  const int dtype = static_cast<int>(host.scalar_type());
  hash = hash_bytes(&dtype, sizeof(dtype), hash);
  for (const int64_t size : host.sizes()) hash = hash_bytes(&size, sizeof(size), hash);
  return hash_bytes(host.data_ptr(), host.nbytes(), hash);
}

void check_replicas_consistent(torch::nn::Module& module, const std::string& module_name,
                               Communicator& comm) {
  const auto params = module.named_parameters(/*recurse=*/true);
  std::vector<int64_t> sums;
  for (const auto& item : params) {
    const uint64_t hash = tensor_checksum(item.value());
    int64_t as_signed = 0;
    std::memcpy(&as_signed, &hash, sizeof hash);
    sums.push_back(as_signed);
  }
  if (sums.empty()) return;
  torch::Tensor mine = torch::tensor(sums, torch::kInt64);
  torch::Tensor all;
  comm.all_gather(mine, all);
  const auto table = all.accessor<int64_t, 2>();
  for (int64_t j = 0; j < static_cast<int64_t>(sums.size()); ++j) {
    for (int r = 1; r < comm.world_size(); ++r) {
      if (table[r][j] == table[0][j]) continue;
      throw Error(dcgan::str(log::rank_tag(), " replicas diverged: ", module_name, " parameter '",
                             params[static_cast<size_t>(j)].key(),
                             "' differs between rank 0 and rank ", r, " (checksums ", std::hex,
                             table[0][j], " vs ", table[r][j], std::dec,
                             "). HINT: every rank must apply the same averaged update; check for "
                             "rank-dependent code paths or a non-deterministic kernel"));
    }
  }
}

}  // namespace dcgan::distributed
