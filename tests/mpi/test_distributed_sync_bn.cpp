// SyncBatchNorm2d under mpiexec: N ranks x batch b compute what one plain BatchNorm2d computes on
// the all-gathered batch N*b (forward, input/weight/bias gradients, running statistics), alone and
// inside a small network whose gradients the GradReducer averages.
#include <algorithm>

#include "dcgan/distributed/grad_reducer.h"
#include "dcgan/distributed/sync_batch_norm.h"
#include "test_distributed_main.h"

namespace dcgan::distributed {
namespace {

using test::world;
constexpr double kRelTol = 1e-5;

void expect_close(const torch::Tensor& got, const torch::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double err =
      (got.to(torch::kFloat64) - want.to(torch::kFloat64)).abs().max().item<double>();
  const double scale = std::max(1e-3, want.abs().max().item<double>());
  EXPECT_LE(err / scale, kRelTol) << what << ": max abs error " << err << " at scale " << scale;
}

// Rows [rank*b, (rank+1)*b) of the full batch.
torch::Tensor my_rows(const torch::Tensor& full, int64_t b) {
  return full.narrow(0, world()->rank() * b, b);
}

// Every rank's tensor stacked into one batch, in rank order.
torch::Tensor gather_batch(const torch::Tensor& mine) {
  torch::Tensor all;
  world()->all_gather(mine.contiguous(), all);
  return all.flatten(0, 1);
}

TEST(SyncBatchNormMpi, NRanksTimesBEqualsOneRankTimesNb) {
  Communicator& comm = *world();
  const int64_t b = 3, channels = 4;
  SyncBatchNorm2d sync(channels, comm);
  torch::nn::BatchNorm2d plain(channels);
  {
    torch::NoGradGuard no_grad;
    torch::manual_seed(11);  // same affine parameters on every rank
    const torch::Tensor w = torch::rand({channels}) + 0.5, bias = torch::randn({channels});
    sync->weight.copy_(w), plain->weight.copy_(w);
    sync->bias.copy_(bias), plain->bias.copy_(bias);
  }
  for (int step = 0; step < 2; ++step) {
    torch::manual_seed(100 * step + comm.rank());  // each rank its own data
    const torch::Tensor x = torch::randn({b, channels, 5, 3}) * (2.0 + comm.rank()) + comm.rank();
    const torch::Tensor upstream = torch::randn({b, channels, 5, 3});
    const torch::Tensor full_x = gather_batch(x).requires_grad_(true);
    const torch::Tensor full_up = gather_batch(upstream);

    const torch::Tensor local_x = x.clone().requires_grad_(true);
    const torch::Tensor y = sync(local_x);
    (y * upstream).sum().backward();
    const torch::Tensor full_y = plain(full_x);
    (full_y * full_up).sum().backward();

    const std::string at = " (step " + std::to_string(step) + ")";
    expect_close(y, my_rows(full_y, b), "output" + at);
    expect_close(local_x.grad(), my_rows(full_x.grad(), b), "input grad" + at);
    // Each rank holds its share of the parameter gradients; their sum is the full-batch gradient.
    torch::Tensor grad_w = sync->weight.grad().clone(), grad_b = sync->bias.grad().clone();
    comm.all_reduce(grad_w, ReduceOp::kSum);
    comm.all_reduce(grad_b, ReduceOp::kSum);
    expect_close(grad_w, plain->weight.grad(), "weight grad" + at);
    expect_close(grad_b, plain->bias.grad(), "bias grad" + at);
    expect_close(sync->running_mean, plain->running_mean, "running_mean" + at);
    expect_close(sync->running_var, plain->running_var, "running_var" + at);
    sync->zero_grad();
    plain->zero_grad();
  }
}

struct TinyNet : torch::nn::Module {
  TinyNet(torch::nn::AnyModule norm) {
    conv1 =
        register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 4, 3).bias(false)));
    bn = register_module("bn", norm.ptr());
    norm_ = std::move(norm);
    conv2 =
        register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(4, 1, 4).bias(false)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return conv2(torch::leaky_relu(norm_.forward(conv1(x)), 0.2)).flatten();
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  std::shared_ptr<torch::nn::Module> bn;
  torch::nn::AnyModule norm_;
};

TEST(SyncBatchNormMpi, NetworkGradientsAveragedByTheReducerEqualTheFullBatch) {
  Communicator& comm = *world();
  const int64_t b = 2;
  torch::manual_seed(5);
  TinyNet net(torch::nn::AnyModule(SyncBatchNorm2d(4, comm)));
  torch::manual_seed(5);
  TinyNet ref(torch::nn::AnyModule(torch::nn::BatchNorm2d(4)));
  GradReducer reducer(net.parameters(), comm, 256);
  for (int step = 0; step < 2; ++step) {
    torch::manual_seed(7 + 10 * step + comm.rank());
    const torch::Tensor x = torch::randn({b, 2, 6, 6});
    const torch::Tensor full_x = gather_batch(x);
    reducer.zero_grad();
    ref.zero_grad();
    net.forward(x).pow(2).mean().backward();  // per-rank mean, as the GAN losses are
    reducer.average();
    ref.forward(full_x).pow(2).mean().backward();
    const auto got = net.named_parameters(), want = ref.named_parameters();
    for (const auto& p : want) {
      expect_close(got[p.key()].grad(), p.value().grad(),
                   p.key() + " grad, step " + std::to_string(step));
    }
  }
}

}  // namespace
}  // namespace dcgan::distributed

int main(int argc, char** argv) { return dcgan::distributed::test::run_mpi_tests(argc, argv); }
