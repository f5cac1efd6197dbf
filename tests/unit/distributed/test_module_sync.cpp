// Replica sync helpers at world size 1 and the checksum behind the consistency guard.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>

#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/module_sync.h"

namespace dcgan::distributed {
namespace {

TEST(TensorChecksum, EqualBytesGiveEqualSumsAndOneFlippedBitChangesIt) {
  const torch::Tensor a = torch::randn({3, 17});
  const torch::Tensor b = a.clone();
  EXPECT_EQ(tensor_checksum(a), tensor_checksum(b));
  EXPECT_EQ(tensor_checksum(a.t().contiguous().t()),
            tensor_checksum(a));  // logical order, not storage layout
  torch::Tensor c = a.clone();
  int32_t bits = 0;
  float* last = c.data_ptr<float>() + c.numel() - 1;  // in the tail after the 8-byte words
  std::memcpy(&bits, last, 4);
  bits ^= 1;
  std::memcpy(last, &bits, 4);
  EXPECT_NE(tensor_checksum(c), tensor_checksum(a));
  // -0.0 and 0.0 compare equal as numbers but are different bits: replicas must be bit-identical.
  EXPECT_NE(tensor_checksum(torch::tensor({0.0f, 1.0f})),
            tensor_checksum(torch::tensor({-0.0f, 1.0f})));
}

TEST(ModuleSyncLocal, WorldOneLeavesTheModuleAsItIs) {
  auto comm = make_local_communicator();
  torch::nn::Sequential net(torch::nn::Conv2d(2, 3, 3), torch::nn::BatchNorm2d(3),
                            torch::nn::BatchNorm2d(3));
  net->named_buffers()["1.running_mean"].fill_(0.5);
  const torch::Tensor w = net->named_parameters()["0.weight"].clone();
  const std::vector<torch::Tensor> stats = bn_running_stats(*net);
  ASSERT_EQ(stats.size(), 4u);  // mean and var of two BN layers, not num_batches_tracked
  EXPECT_TRUE(stats[0].equal(torch::full({3}, 0.5)));  // 1.running_mean, the buffer itself
  broadcast_module(*net, *comm, 0);
  EXPECT_TRUE(net->named_buffers()["1.running_mean"].equal(torch::full({3}, 0.5)));
  EXPECT_TRUE(net->named_parameters()["0.weight"].equal(w));
  EXPECT_NO_THROW(check_replicas_consistent(*net, "D", *comm));
}

}  // namespace
}  // namespace dcgan::distributed
