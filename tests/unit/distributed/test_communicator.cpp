// The single-rank local communicator and all_reduce_mean_host, without MPI.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dcgan/common/errors.h"
#include "dcgan/distributed/communicator.h"

namespace dcgan::distributed {
namespace {

TEST(LocalCommunicator, IsRankZeroOfOne) {
  auto comm = make_local_communicator();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->world_size(), 1);
  EXPECT_EQ(comm->backend_name(), "local");
}

TEST(LocalCommunicator, CollectivesAreTheIdentity) {
  auto comm = make_local_communicator();
  torch::Tensor t = torch::arange(6, torch::kFloat32);
  comm->all_reduce(t, ReduceOp::kSum);
  EXPECT_TRUE(t.equal(torch::arange(6, torch::kFloat32)));
  comm->all_reduce(t, ReduceOp::kMax);
  comm->broadcast(t, 0);
  EXPECT_TRUE(t.equal(torch::arange(6, torch::kFloat32)));
  torch::Tensor gathered;
  comm->all_gather(t.view({2, 3}), gathered);
  ASSERT_EQ(gathered.sizes(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_TRUE(gathered[0].equal(t.view({2, 3})));
  comm->barrier();
}

TEST(TimeoutScope, HoldsTheDeadlineForItsScopeThenPutsThePreviousOneBack) {
  using std::chrono::seconds;
  auto comm = make_local_communicator();
  EXPECT_EQ(comm->timeout(), seconds(600));
  EXPECT_EQ(comm->set_timeout(seconds(60)), seconds(600));
  {
    const TimeoutScope long_phase(*comm, seconds(900));
    EXPECT_EQ(comm->timeout(), seconds(900));
    {
      const TimeoutScope inner(*comm, seconds(5));
      EXPECT_EQ(comm->timeout(), seconds(5));
    }
    EXPECT_EQ(comm->timeout(), seconds(900));
  }
  EXPECT_EQ(comm->timeout(), seconds(60));
}

TEST(LocalCommunicator, RefusesWhatMpiWouldRefuse) {
  auto comm = make_local_communicator();
  torch::Tensor strided = torch::zeros({4, 4}).t();
  EXPECT_THROW(comm->all_reduce(strided, ReduceOp::kSum), Error);
  torch::Tensor half = torch::zeros({3}, torch::kFloat16);
  try {
    comm->all_reduce(half, ReduceOp::kSum);
    FAIL() << "float16 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported dtype"), std::string::npos) << e.what();
  }
  torch::Tensor ok = torch::zeros({3});
  EXPECT_THROW(comm->broadcast(ok, 1), Error);
}

TEST(AllReduceMeanHost, ReturnsTheValuesAtWorldOneWithoutTouchingThem) {
  auto comm = make_local_communicator();
  torch::Tensor losses = torch::tensor({0.25f, 1.5f, -3.0f});
  torch::Tensor mean = all_reduce_mean_host(*comm, losses);
  EXPECT_EQ(mean.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(mean.equal(losses));
  EXPECT_NE(mean.data_ptr(), losses.data_ptr());
}

// srun --gpus-per-task=1 shows every rank its own GPU as cuda:0: different UUIDs, accepted. Two
// ranks on one GPU share a UUID: each names the other. A rank without a GPU shares nothing.
TEST(LocalRankSharingGpu, TellsOneGpuPerTaskFromTwoRanksOnOneGpu) {
  EXPECT_EQ(local_rank_sharing_gpu({"0a", "0b", "0c"}, 1), -1);
  EXPECT_EQ(local_rank_sharing_gpu({"0a", "0b", "0a"}, 0), 2);
  EXPECT_EQ(local_rank_sharing_gpu({"0a", "0b", "0a"}, 2), 0);
  EXPECT_EQ(local_rank_sharing_gpu({"0a", "0b", "0a"}, 1), -1);
  EXPECT_EQ(local_rank_sharing_gpu({"", "", ""}, 1), -1);
  EXPECT_EQ(local_rank_sharing_gpu({"0a"}, 0), -1);
}

}  // namespace
}  // namespace dcgan::distributed
