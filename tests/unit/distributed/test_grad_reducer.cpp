// GradReducer with the local communicator: views, buckets, zeroing, averaging.
#include <gtest/gtest.h>

#include <torch/torch.h>
#include <cmath>
#include <limits>

#include "dcgan/common/errors.h"
#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/grad_reducer.h"

namespace dcgan::distributed {
namespace {

// Parameters of 10, 20, 30 and 40 floats (40, 80, 120, 160 bytes).
std::vector<torch::Tensor> make_params() {
  std::vector<torch::Tensor> params;
  for (int64_t n : {10, 20, 30, 40}) {
    params.push_back(torch::randn({n / 10, 10}).requires_grad_(true));
  }
  return params;
}

bool is_view_of(const torch::Tensor& grad, const torch::Tensor& flat) {
  const auto* begin = static_cast<const char*>(flat.data_ptr());
  const auto* end = begin + flat.numel() * flat.element_size();
  const auto* p = static_cast<const char*>(grad.data_ptr());
  return grad.defined() && p >= begin && p + grad.numel() * grad.element_size() <= end;
}

TEST(GradReducer, GradsAreViewsOfOneFlatBufferInParameterOrder) {
  auto comm = make_local_communicator();
  auto params = make_params();
  GradReducer reducer(params, *comm, 1 << 20);
  EXPECT_EQ(reducer.numel(), 100);
  int64_t offset = 0;
  for (const auto& p : params) {
    ASSERT_TRUE(is_view_of(p.grad(), reducer.flat()));
    EXPECT_EQ(static_cast<const float*>(p.grad().data_ptr()),
              reducer.flat().data_ptr<float>() + offset);
    EXPECT_EQ(p.grad().sizes(), p.sizes());
    offset += p.numel();
  }
}

TEST(GradReducer, BackwardAccumulatesIntoTheFlatBuffer) {
  auto comm = make_local_communicator();
  auto params = make_params();
  GradReducer reducer(params, *comm, 1 << 20);
  (params[1] * 3.0).sum().backward();
  EXPECT_EQ(reducer.flat().narrow(0, 10, 20).eq(3.0).all().item<bool>(), true);
  EXPECT_EQ(reducer.flat().sum().item<float>(), 60.0f);
  EXPECT_TRUE(is_view_of(params[1].grad(), reducer.flat()));
}

TEST(GradReducer, ZeroGradKeepsViewsAndRepointsDetachedOnes) {
  auto comm = make_local_communicator();
  auto params = make_params();
  GradReducer reducer(params, *comm, 1 << 20);
  (params[0] * params[0]).sum().backward();
  reducer.zero_grad();
  EXPECT_EQ(reducer.flat().abs().sum().item<float>(), 0.0f);
  for (const auto& p : params) EXPECT_TRUE(is_view_of(p.grad(), reducer.flat()));
  params[2].mutable_grad() = torch::Tensor();  // what optimizer.zero_grad() does
  EXPECT_THROW(reducer.average(), Error);
  reducer.zero_grad();
  EXPECT_TRUE(is_view_of(params[2].grad(), reducer.flat()));
  EXPECT_NO_THROW(reducer.average());
}

TEST(GradReducer, BucketsHoldWholeParametersUpToTheBucketSize) {
  auto comm = make_local_communicator();
  auto params = make_params();
  // Filled from the last parameter: at 200 bytes {160} (160+120 > 200), {120, 80} (= 200), {40}.
  EXPECT_EQ(GradReducer(params, *comm, 200).num_buckets(), 3u);
  EXPECT_EQ(GradReducer(params, *comm, 400).num_buckets(), 1u);  // all 400 bytes
  EXPECT_EQ(GradReducer(params, *comm, 399).num_buckets(), 2u);  // {160,120,80} {40}
  EXPECT_EQ(GradReducer(params, *comm, 1).num_buckets(), 4u);    // one per parameter
  EXPECT_THROW(GradReducer(params, *comm, 0), UsageError);
}

TEST(GradReducer, AverageAtWorldOneKeepsTheGradientsAndAddTwiceThrows) {
  auto comm = make_local_communicator();
  auto params = make_params();
  GradReducer reducer(params, *comm, 100);
  (params[3] * 2.0).sum().backward();
  const torch::Tensor before = reducer.flat().clone();
  reducer.average();
  EXPECT_TRUE(reducer.flat().equal(before));
  reducer.add(params[0]);
  EXPECT_THROW(reducer.add(params[0]), Error);
  EXPECT_THROW(reducer.add(torch::zeros({3})), Error);
  reducer.finalize();
}

// Simulates `world` ranks that all hold the same tensor: a sum is `world` times the tensor. It
// records every all_reduce so the test sees the buckets go by.
class IdenticalRanksCommunicator final : public Communicator {
 public:
  explicit IdenticalRanksCommunicator(int world) : world_(world) {}
  int rank() const override { return 0; }
  int world_size() const override { return world_; }
  std::string backend_name() const override { return "fake"; }
  void all_reduce(torch::Tensor& tensor, ReduceOp op) override {
    ASSERT_EQ(op, ReduceOp::kSum);
    reduced_numels.push_back(tensor.numel());
    tensor.mul_(world_);
  }
  void broadcast(torch::Tensor& /*tensor*/, int /*root*/) override {}
  void all_gather(const torch::Tensor& in, torch::Tensor& out) override {
    out = in.unsqueeze(0).expand({world_, -1}).clone();
  }
  void barrier() override {}
  std::vector<int64_t> reduced_numels;

 private:
  int world_;
};

TEST(GradReducer, AverageSumsEachBucketOnceAndDividesByTheWorldSize) {
  IdenticalRanksCommunicator comm(4);
  auto params = make_params();
  GradReducer reducer(params, comm, 200);
  for (size_t i = 0; i < params.size(); ++i)
    (params[i] * static_cast<double>(i + 1)).sum().backward();
  const torch::Tensor before = reducer.flat().clone();  // 1,..,1, 2,..,2, 3,..., 4,...
  reducer.average();
  // Buckets, last first; the last one also carries the 1-element head (the flag word).
  EXPECT_EQ(comm.reduced_numels, (std::vector<int64_t>{40, 50, 11}));
  EXPECT_TRUE(reducer.flat().equal(before)) << "sum of 4 identical ranks / 4 must give them back";
  reducer.average();
  EXPECT_EQ(comm.reduced_numels.size(), 6u);
}

// The passengers (BN statistics) ride on the last bucket's all-reduce: copied in, averaged, and
// copied back. With 4 identical ranks the average gives each value back; had the copy-in been
// missed, they would come back as the head's zeros.
TEST(GradReducer, PassengersRideOnTheLastBucket) {
  IdenticalRanksCommunicator comm(4);
  auto params = make_params();
  torch::Tensor mean = torch::tensor({0.25f, -1.5f, 3.0f});
  torch::Tensor var = torch::full({2, 2}, 7.0f);
  GradReducer reducer(params, comm, 200, {mean, var});
  for (const auto& p : params) p.sum().backward();
  reducer.average();
  EXPECT_EQ(comm.reduced_numels, (std::vector<int64_t>{40, 50, 10 + 1 + 3 + 4}));
  EXPECT_TRUE(mean.equal(torch::tensor({0.25f, -1.5f, 3.0f})));
  EXPECT_TRUE(var.equal(torch::full({2, 2}, 7.0f)));
  EXPECT_EQ(reducer.numel(), 100) << "the head is not a gradient";
  EXPECT_EQ(reducer.non_finite().item<float>(), 0.0f);
  // A BN statistic gone NaN stays NaN; it must not count as a non-finite round (it would stop
  // every later update, on more than one rank only).
  reducer.zero_grad();
  mean[1] = std::numeric_limits<float>::quiet_NaN();
  for (const auto& p : params) p.sum().backward();
  reducer.average();
  EXPECT_TRUE(std::isnan(mean[1].item<float>()));
  EXPECT_EQ(reducer.non_finite().item<float>(), 0.0f);
}

// non_finite(): 1 after a flagged non-finite loss or a non-finite gradient, until zero_grad().
TEST(GradReducer, NonFiniteFlagsLossesAndGradients) {
  auto comm = make_local_communicator();
  auto params = make_params();
  GradReducer reducer(params, *comm, 64);
  reducer.flag_non_finite(torch::tensor(1.5f));
  reducer.average();
  const torch::Tensor finite = reducer.non_finite();
  EXPECT_EQ(finite.scalar_type(), torch::kFloat32);
  EXPECT_EQ(finite.dim(), 0);
  EXPECT_EQ(finite.item<float>(), 0.0f);
  reducer.zero_grad();
  reducer.flag_non_finite(torch::tensor(std::numeric_limits<float>::quiet_NaN()));
  reducer.average();
  EXPECT_EQ(reducer.non_finite().item<float>(), 1.0f) << "a NaN loss";
  reducer.zero_grad();
  EXPECT_EQ(reducer.non_finite().item<float>(), 0.0f) << "zero_grad clears the flag";
  (params[2] * std::numeric_limits<float>::infinity()).sum().backward();
  reducer.average();
  EXPECT_EQ(reducer.non_finite().item<float>(), 1.0f) << "an Inf gradient";
}

TEST(GradReducer, RefusesAPassengerOfAnotherDtype) {
  auto comm = make_local_communicator();
  try {
    GradReducer reducer(make_params(), *comm, 64, {torch::zeros({2}, torch::kFloat64)});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("passenger 0 is Double on cpu"), std::string::npos)
        << e.what();
  }
}

// Overlap: during an armed backward the gradient hooks start each bucket's all-reduce as soon as
// backward has filled it, so every bucket is in flight before finalize(); an unarmed backward (D's
// first pass) starts none. The averaged gradients equal those of the plain path.
TEST(GradReducer, OverlapStartsBucketsFromBackwardHooks) {
  IdenticalRanksCommunicator comm(4);
  auto params = make_params();
  GradReducer reducer(params, comm, 200, {}, /*overlap=*/true);
  auto loss = [&] {
    torch::Tensor total = torch::zeros({});
    for (size_t i = 0; i < params.size(); ++i)
      total = total + (params[i] * static_cast<double>(i + 1)).sum();
    return total;
  };
  loss().backward();  // not armed: a first pass whose gradients are not final yet
  EXPECT_TRUE(comm.reduced_numels.empty());
  reducer.arm();
  loss().backward();
  EXPECT_EQ(comm.reduced_numels.size(), 3u) << "every bucket started inside backward";
  reducer.average();  // nothing left to add; waits and averages
  EXPECT_EQ(comm.reduced_numels.size(), 3u);
  for (size_t i = 0; i < params.size(); ++i) {  // two passes of (i + 1), averaged over 4 x 4 / 4
    EXPECT_TRUE(params[i].grad().eq(2.0 * static_cast<double>(i + 1)).all().item<bool>()) << i;
  }
  reducer.zero_grad();
  loss().backward();  // finalize() disarmed it
  EXPECT_EQ(comm.reduced_numels.size(), 3u);
  // A round cut short between arm() and finalize() (an exception): zero_grad() drains and
  // disarms, so the next unarmed backward starts nothing.
  reducer.zero_grad();
  reducer.arm();
  loss().backward();
  EXPECT_EQ(comm.reduced_numels.size(), 6u);
  reducer.zero_grad();
  loss().backward();
  EXPECT_EQ(comm.reduced_numels.size(), 6u);
  reducer.average();
  EXPECT_EQ(comm.reduced_numels.size(), 9u);
}

// At one rank the buckets make no collective, unless reduce_single_rank asks for them (one GPU then
// runs the NCCL path of many): the same buckets as at four ranks, started from backward's hooks
// when overlap is on too, and the gradients come back unchanged.
TEST(GradReducer, ReduceSingleRankSendsTheBucketsThroughTheCommunicator) {
  IdenticalRanksCommunicator plain_comm(1), forced_comm(1), overlap_comm(1);
  auto params = make_params();
  GradReducer plain(params, plain_comm, 200, {}, /*overlap=*/true);
  (params[0] * 3.0).sum().backward();
  plain.average();
  EXPECT_TRUE(plain_comm.reduced_numels.empty());

  auto forced_params = make_params();
  GradReducer forced(forced_params, forced_comm, 200, {}, /*overlap=*/false,
                     /*reduce_single_rank=*/true);
  (forced_params[0] * 3.0).sum().backward();
  forced.average();
  EXPECT_EQ(forced_comm.reduced_numels, (std::vector<int64_t>{40, 50, 11}));
  EXPECT_TRUE(forced_params[0].grad().eq(3.0).all().item<bool>());

  auto overlap_params = make_params();
  GradReducer overlapped(overlap_params, overlap_comm, 200, {}, /*overlap=*/true,
                         /*reduce_single_rank=*/true);
  overlapped.arm();
  torch::Tensor total = torch::zeros({});
  for (const torch::Tensor& p : overlap_params) total = total + p.sum();
  total.backward();
  EXPECT_EQ(overlap_comm.reduced_numels.size(), 3u) << "every bucket started inside backward";
  overlapped.finalize();
  EXPECT_EQ(overlap_comm.reduced_numels.size(), 3u);
  for (const torch::Tensor& p : overlap_params) EXPECT_TRUE(p.grad().eq(1.0).all().item<bool>());
}

TEST(GradReducer, RefusesMixedDtypes) {
  auto comm = make_local_communicator();
  std::vector<torch::Tensor> params{torch::zeros({2}, torch::kFloat32).requires_grad_(true),
                                    torch::zeros({2}, torch::kFloat64).requires_grad_(true)};
  EXPECT_THROW(GradReducer(params, *comm, 64), Error);
}

}  // namespace
}  // namespace dcgan::distributed
