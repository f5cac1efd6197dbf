// SyncBatchNorm2d at world size 1 computes what torch::nn::BatchNorm2d computes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dcgan/common/errors.h"
#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/sync_batch_norm.h"

namespace dcgan::distributed {
namespace {

constexpr double kTol = 1e-6;

void expect_close(const torch::Tensor& got, const torch::Tensor& want, const char* what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double err =
      (got.to(torch::kFloat64) - want.to(torch::kFloat64)).abs().max().item<double>();
  const double scale = std::max(1.0, want.abs().max().item<double>());
  EXPECT_LE(err / scale, kTol) << what << ": max abs error " << err;
}

TEST(SyncBatchNorm2d, NamesParametersAndBuffersLikeBatchNorm2d) {
  auto comm = make_local_communicator();
  SyncBatchNorm2d sync(6, *comm);
  torch::nn::BatchNorm2d plain(6);
  EXPECT_EQ(sync->named_parameters().keys(), plain->named_parameters().keys());
  EXPECT_EQ(sync->named_buffers().keys(), plain->named_buffers().keys());
  for (const auto& b : plain->named_buffers()) {
    EXPECT_TRUE(sync->named_buffers()[b.key()].equal(b.value())) << b.key();
    EXPECT_EQ(sync->named_buffers()[b.key()].scalar_type(), b.value().scalar_type()) << b.key();
  }
}

TEST(SyncBatchNorm2d, MatchesBatchNorm2dForwardBackwardAndRunningStatsOverSteps) {
  auto comm = make_local_communicator();
  torch::manual_seed(3);
  const int64_t channels = 5;
  SyncBatchNorm2d sync(channels, *comm);
  torch::nn::BatchNorm2d plain(channels);
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor w = torch::rand({channels}) + 0.5, b = torch::randn({channels});
    sync->weight.copy_(w), plain->weight.copy_(w);
    sync->bias.copy_(b), plain->bias.copy_(b);
  }
  for (int step = 0; step < 3; ++step) {
    // Non-zero mean and a large spread per channel, as after a conv.
    const torch::Tensor x = torch::randn({4, channels, 3, 5}) * 3 + 1.5;
    const torch::Tensor upstream = torch::randn({4, channels, 3, 5});
    const torch::Tensor x1 = x.clone().requires_grad_(true), x2 = x.clone().requires_grad_(true);
    const torch::Tensor y1 = sync(x1), y2 = plain(x2);
    expect_close(y1, y2, "output");
    (y1 * upstream).sum().backward();
    (y2 * upstream).sum().backward();
    expect_close(x1.grad(), x2.grad(), "input grad");
    expect_close(sync->weight.grad(), plain->weight.grad(), "weight grad");
    expect_close(sync->bias.grad(), plain->bias.grad(), "bias grad");
    expect_close(sync->running_mean, plain->running_mean, "running_mean");
    expect_close(sync->running_var, plain->running_var, "running_var");
  }
  EXPECT_EQ(sync->num_batches_tracked.item<int64_t>(), 3);
  EXPECT_EQ(plain->num_batches_tracked.item<int64_t>(), 3);

  sync->eval();
  plain->eval();
  const torch::Tensor x = torch::randn({2, channels, 4, 4});
  expect_close(sync(x), plain(x), "eval output");
}

// The generator phase freezes D: gradients flow through its norm layers to the input only.
TEST(SyncBatchNorm2d, FrozenParametersPassTheInputGradientThrough) {
  auto comm = make_local_communicator();
  torch::manual_seed(4);
  SyncBatchNorm2d sync(3, *comm);
  torch::nn::BatchNorm2d plain(3);
  for (auto* m : {static_cast<torch::nn::Module*>(sync.get()),
                  static_cast<torch::nn::Module*>(plain.get())}) {
    for (auto& p : m->parameters()) p.set_requires_grad(false);
  }
  const torch::Tensor x = torch::randn({3, 3, 4, 4}) + 2;
  const torch::Tensor x1 = x.clone().requires_grad_(true), x2 = x.clone().requires_grad_(true);
  (sync(x1) * x).sum().backward();
  (plain(x2) * x).sum().backward();
  expect_close(x1.grad(), x2.grad(), "input grad with frozen weight/bias");
  EXPECT_FALSE(sync->weight.grad().defined());
  EXPECT_FALSE(sync->bias.grad().defined());
}

TEST(SyncBatchNorm2d, WorksAsAnAnyModuleAndRefusesBadInput) {
  auto comm = make_local_communicator();
  torch::nn::AnyModule any(SyncBatchNorm2d(3, *comm));
  EXPECT_EQ(any.forward(torch::randn({2, 3, 2, 2})).sizes(), (std::vector<int64_t>{2, 3, 2, 2}));
  SyncBatchNorm2d bn(3, *comm);
  EXPECT_THROW(bn(torch::randn({2, 4, 2, 2})), Error);
  EXPECT_THROW(bn(torch::randn({2, 3})), Error);
  EXPECT_THROW(bn(torch::randn({1, 3, 1, 1})), Error);  // one value per channel
}

}  // namespace
}  // namespace dcgan::distributed
