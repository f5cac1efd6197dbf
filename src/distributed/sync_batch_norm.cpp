// SyncBatchNorm2d: global batch statistics in forward (one all-gather of per-rank mean, M2 and
// count) and global gradient sums in backward (one all-reduce of 2*C floats).
#include "dcgan/distributed/sync_batch_norm.h"

#include <cstdint>

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"

namespace dcgan::distributed {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

torch::Tensor per_channel(const torch::Tensor& t) { return t.view({1, -1, 1, 1}); }

struct GlobalStats {
  torch::Tensor mean;        // [C] float64
  torch::Tensor var_biased;  // [C] float64, divided by count
  torch::Tensor count;       // [] float64: elements per channel over every rank's batch
};

// Combines every rank's (mean, M2, count) with the parallel-variance formula: exact up to
// rounding, with no E[x^2] - E[x]^2 cancellation, and one small all-gather. Statistics in float32
// at least, whatever the input (bf16 under autocast), as torch's BatchNorm keeps them; no host
// read: the count stays a device tensor.
GlobalStats global_stats(const torch::Tensor& input, Communicator& comm) {
  const auto channels = input.size(1);
  const double local_count = static_cast<double>(input.numel() / channels);
  const torch::Tensor x =
      input.scalar_type() == torch::kFloat64 ? input : input.to(torch::kFloat32);
  auto [var, mean] = torch::var_mean(x, {0, 2, 3}, /*correction=*/0, /*keepdim=*/false);
  torch::Tensor packed =
      torch::cat({mean.to(torch::kFloat64), var.to(torch::kFloat64) * local_count,
                  torch::full({1}, local_count, mean.options().dtype(torch::kFloat64))});
  torch::Tensor all;
  comm.all_gather(packed, all);  // [W, 2C+1]
  const torch::Tensor means = all.narrow(1, 0, channels);
  const torch::Tensor m2s = all.narrow(1, channels, channels);
  const torch::Tensor counts = all.narrow(1, 2 * channels, 1);
  GlobalStats stats;
  stats.count = counts.sum();
  stats.mean = (means * counts).sum(0) / stats.count;
  const torch::Tensor spread = (means - stats.mean).pow(2) * counts;
  stats.var_biased = (m2s + spread).sum(0) / stats.count;
  return stats;
}

// The normalisation with global statistics; backward all-reduces the per-channel gradient sums.
struct SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               const torch::Tensor& mean, const torch::Tensor& invstd,
                               const torch::Tensor& count, int64_t comm_address) {
    ctx->save_for_backward({input, weight, mean, invstd, count});
    ctx->saved_data["comm"] = comm_address;
    // y = x * alpha + beta, as torch's batch_norm computes it, in the statistics' dtype; y in the
    // input's, as torch's BatchNorm returns it.
    const torch::Tensor alpha = invstd * weight;
    const torch::Tensor beta = bias - mean * alpha;
    return torch::addcmul(per_channel(beta), input.to(mean.scalar_type()), per_channel(alpha))
        .to(input.scalar_type());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& input = saved[0];
    const torch::Tensor& weight = saved[1];
    const torch::Tensor& mean = saved[2];
    const torch::Tensor& invstd = saved[3];
    const torch::Tensor& count = saved[4];  // float64: exact at any batch
    auto* comm = reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt());
    // The statistics and the per-channel sums in float32 at least, whatever the input's dtype.
    const torch::ScalarType stat_type =
        input.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
    const torch::Tensor grad_out = grad_outputs[0].contiguous().to(stat_type);
    const auto channels = input.size(1);

    const torch::Tensor xmu = input.to(stat_type) - per_channel(mean);
    const torch::Tensor sum_dy = grad_out.sum({0, 2, 3});
    const torch::Tensor sum_dy_xmu = (grad_out * xmu).sum({0, 2, 3});
    // This rank's share of the parameter gradients; the GradReducer sums the shares.
    const torch::Tensor grad_weight = sum_dy_xmu * invstd;
    const torch::Tensor grad_bias = sum_dy;

    // On the autograd engine's device thread for CUDA tensors, while the thread that called
    // backward() blocks in it: see Note [Sync-BN's collective in backward] in the header.
    torch::Tensor sums = torch::cat({sum_dy, sum_dy_xmu});
    comm->all_reduce(sums, ReduceOp::kSum);
    const torch::Tensor mean_dy = (sums.narrow(0, 0, channels) / count).to(stat_type);
    const torch::Tensor mean_dy_xmu = (sums.narrow(0, channels, channels) / count).to(stat_type);
    const torch::Tensor grad_input =
        ((grad_out - per_channel(mean_dy) - xmu * per_channel(invstd * invstd * mean_dy_xmu)) *
         per_channel(invstd * weight))
            .to(input.scalar_type());
    return {grad_input,      grad_weight,     grad_bias,      torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

SyncBatchNorm2dImpl::SyncBatchNorm2dImpl(int64_t num_features, Communicator& comm, double eps,
                                         double momentum)
    : comm_(&comm), eps_(eps), momentum_(momentum) {
  if (num_features <= 0) throw Error(dcgan::str("SyncBatchNorm2d: num_features ", num_features));
  weight = register_parameter("weight", torch::ones({num_features}));
  bias = register_parameter("bias", torch::zeros({num_features}));
  running_mean = register_buffer("running_mean", torch::zeros({num_features}));
  running_var = register_buffer("running_var", torch::ones({num_features}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::tensor(0, torch::kLong));
}

torch::Tensor SyncBatchNorm2dImpl::forward(const torch::Tensor& input) {
  if (input.dim() != 4 || input.size(1) != weight.size(0)) {
    throw Error(dcgan::str(log::rank_tag(), " SyncBatchNorm2d(", weight.size(0),
                           "): expected input [N, ", weight.size(0), ", H, W], got ",
                           input.sizes()));
  }
  if (!is_training()) {
    return torch::batch_norm(input, weight, bias, running_mean, running_var, /*training=*/false,
                             momentum_, eps_, /*cudnn_enabled=*/true);
  }
  // Torch's check (more than one value per channel in training), decided without a host read of
  // the global count: every rank holds at least one value, so more than one rank always passes.
  const int64_t local_count = input.size(1) > 0 ? input.numel() / input.size(1) : 0;
  if (local_count == 0 || (comm_->world_size() == 1 && local_count <= 1)) {
    throw Error(dcgan::str(log::rank_tag(),
                           " SyncBatchNorm2d: expected more than 1 value per "
                           "channel over all ranks in training, got input ",
                           input.sizes()));
  }
  GlobalStats stats;
  {
    torch::NoGradGuard no_grad;
    stats = global_stats(input.detach(), *comm_);
    // Like torch's BatchNorm: the running variance is unbiased over the global batch.
    const torch::Tensor var_unbiased = stats.var_biased * (stats.count / (stats.count - 1));
    running_mean.copy_(running_mean.to(torch::kFloat64) * (1 - momentum_) + stats.mean * momentum_);
    running_var.copy_(running_var.to(torch::kFloat64) * (1 - momentum_) + var_unbiased * momentum_);
    num_batches_tracked.add_(1);
  }
  const torch::ScalarType stat_type =
      input.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  const torch::Tensor invstd = (stats.var_biased + eps_).rsqrt().to(stat_type);
  return SyncBatchNormFunction::apply(input, weight, bias, stats.mean.to(stat_type), invstd,
                                      stats.count,
                                      static_cast<int64_t>(reinterpret_cast<intptr_t>(comm_)));
}

}  // namespace dcgan::distributed
