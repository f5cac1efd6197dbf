// MPI backend under mpiexec: collectives, gradient averaging and replica sync give closed-form
// results for rank-dependent inputs. `--abort-drill` instead runs the dead-peer drill that
// tests/scripts/test_distributed_abort.sh times: the last rank throws while the others wait in a
// collective, and the whole job must end non-zero within seconds.
#include <chrono>
#include <csignal>
#include <cstring>
#include <limits>
#include <string>
#include <thread>

#include "dcgan/common/cuda_library.h"
#include "dcgan/common/errors.h"
#include "dcgan/distributed/grad_reducer.h"
#include "dcgan/distributed/module_sync.h"
#include "dcgan/distributed/rank_guard.h"
#include "test_distributed_main.h"

namespace dcgan::distributed {
namespace {

using test::world;

// x_r[i] = (r + 1) * (i + 1) * scale: sum = W(W+1)/2 * (i+1) * scale, max at r = W-1, min at r = 0.
template <class T>
void expect_reductions_exact(torch::ScalarType dtype, T scale) {
  Communicator& comm = *world();
  const int64_t n = 37;
  const double w = comm.world_size();
  const torch::Tensor index1 = torch::arange(1, n + 1, torch::kFloat64);
  auto make = [&] { return (index1 * ((comm.rank() + 1) * static_cast<double>(scale))).to(dtype); };
  torch::Tensor sum = make(), max = make(), min = make();
  comm.all_reduce(sum, ReduceOp::kSum);
  comm.all_reduce(max, ReduceOp::kMax);
  comm.all_reduce(min, ReduceOp::kMin);
  EXPECT_TRUE(sum.equal((index1 * (w * (w + 1) / 2 * static_cast<double>(scale))).to(dtype)))
      << sum;
  EXPECT_TRUE(max.equal((index1 * (w * static_cast<double>(scale))).to(dtype))) << max;
  EXPECT_TRUE(min.equal((index1 * static_cast<double>(scale)).to(dtype))) << min;
}

TEST(MpiCommunicator, ReportsTheMpiWorld) {
  EXPECT_EQ(world()->backend_name(), "mpi");
  EXPECT_GE(world()->world_size(), 2);
  EXPECT_LT(world()->rank(), world()->world_size());
}

TEST(MakeCommunicator, RefusesBackendsThatCannotRunHere) {
  const MpiSession& session = *test::mpi_session();
  const torch::Device cpu(torch::kCPU);
  EXPECT_THROW(make_communicator(CommConfig{"gloo"}, session, cpu), UsageError);
  EXPECT_THROW(make_communicator(CommConfig{"nccl"}, session, cpu), UsageError);
  EXPECT_THROW(make_communicator(CommConfig{"mpi", std::chrono::seconds(0)}, session, cpu),
               UsageError);
  EXPECT_EQ(make_communicator(CommConfig{"auto"}, session, cpu)->backend_name(), "mpi");
  if (cuda_library::built()) cuda_library::load();  // the NCCL backend and torch's CUDA half
  const int gpus = static_cast<int>(torch::cuda::device_count());
  if (gpus >= session.local_size()) GTEST_SKIP() << gpus << " GPU(s): enough for NCCL here";
  // More ranks on this node than GPUs: NCCL is refused with a remedy, on every rank alike.
  try {
    make_communicator(CommConfig{"nccl"}, session, torch::Device(torch::kCUDA, 0));
    ADD_FAILURE() << "accepted " << session.local_size() << " ranks on " << gpus << " GPU(s)";
  } catch (const UsageError& e) {
    const std::string message = e.what();
#ifdef DCGAN_WITH_NCCL
    EXPECT_NE(message.find(std::to_string(session.local_size()) + " ranks on this node but " +
                           std::to_string(gpus) + " visible GPU(s)"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("HINT: start at most"), std::string::npos) << message;
#else
    EXPECT_NE(message.find("no NCCL"), std::string::npos) << message;
#endif
  }
}

// Note [Deadlines by phase]: rank 0 arrives 2 s late at a barrier whose deadline a TimeoutScope
// raised from 1 s to 30 s, so the others wait without ending the job; then the 1 s one is back.
TEST(MpiCommunicator, ATimeoutScopeLetsAPeerBeLateForItsLongerDeadline) {
  using std::chrono::seconds;
  const auto comm = make_communicator(CommConfig{"mpi", seconds(1)}, *test::mpi_session(),
                                      torch::Device(torch::kCPU));
  EXPECT_EQ(comm->timeout(), seconds(1));
  const auto started = std::chrono::steady_clock::now();
  {
    const TimeoutScope long_phase(*comm, seconds(30));
    if (comm->rank() == 0) std::this_thread::sleep_for(std::chrono::seconds(2));
    comm->barrier();
  }
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(1900));
  EXPECT_EQ(comm->timeout(), seconds(1));
  torch::Tensor one = torch::ones({1});
  comm->all_reduce(one, ReduceOp::kSum);  // on time under the short deadline again
  EXPECT_EQ(one.item<float>(), static_cast<float>(comm->world_size()));
}

TEST(MpiCommunicator, AllReduceSumMaxMinExactFloat) {
  expect_reductions_exact<float>(torch::kFloat32, 0.25f);
}
TEST(MpiCommunicator, AllReduceSumMaxMinExactDouble) {
  expect_reductions_exact<double>(torch::kFloat64, 1.0 / 1024);
}
TEST(MpiCommunicator, AllReduceSumMaxMinExactInt64) {
  expect_reductions_exact<int64_t>(torch::kInt64, int64_t{1} << 40);
}

TEST(MpiCommunicator, BroadcastFromEveryRootGivesTheRootsValues) {
  Communicator& comm = *world();
  for (int root = 0; root < comm.world_size(); ++root) {
    for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kInt64}) {
      torch::Tensor t = (torch::arange(11, torch::kFloat64) * 3 + comm.rank() * 100).to(dtype);
      comm.broadcast(t, root);
      EXPECT_TRUE(t.equal((torch::arange(11, torch::kFloat64) * 3 + root * 100).to(dtype)))
          << "root " << root << " dtype " << dtype;
    }
  }
}

TEST(MpiCommunicator, AllGatherStacksEveryRanksTensorInRankOrder) {
  Communicator& comm = *world();
  torch::Tensor mine = torch::full({2, 3}, static_cast<double>(comm.rank()) + 0.5, torch::kFloat64);
  torch::Tensor all;
  comm.all_gather(mine, all);
  EXPECT_EQ(all.sizes(), (std::vector<int64_t>{comm.world_size(), 2, 3}));
  for (int r = 0; r < comm.world_size(); ++r) {
    EXPECT_TRUE(all[r].equal(torch::full({2, 3}, r + 0.5, torch::kFloat64))) << "rank " << r;
  }
}

TEST(MpiCommunicator, AllReduceMeanHostAveragesMetrics) {
  Communicator& comm = *world();
  torch::Tensor losses = torch::tensor({static_cast<float>(comm.rank()), 2.0f});
  torch::Tensor mean = all_reduce_mean_host(comm, losses);
  EXPECT_FLOAT_EQ(mean[0].item<float>(), (comm.world_size() - 1) / 2.0f);
  EXPECT_FLOAT_EQ(mean[1].item<float>(), 2.0f);
  EXPECT_EQ(losses[0].item<float>(), static_cast<float>(comm.rank()));
}

TEST(GradReducerMpi, AverageOverManyBucketsIsTheClosedFormMean) {
  Communicator& comm = *world();
  std::vector<torch::Tensor> params;
  for (int64_t n : {7, 13, 29, 50, 3}) params.push_back(torch::zeros({n}).requires_grad_(true));
  GradReducer reducer(params, comm, 64);  // 16 floats per bucket: a bucket per parameter
  EXPECT_EQ(reducer.num_buckets(), 5u);
  for (int round = 0; round < 2; ++round) {
    reducer.zero_grad();
    torch::Tensor loss = torch::zeros({});
    for (size_t k = 0; k < params.size(); ++k) {
      // d loss / d p_k[j] = (rank + 1) * (k + 1) * (j + 1)
      const torch::Tensor c = torch::arange(1, params[k].numel() + 1, torch::kFloat32) *
                              static_cast<float>((comm.rank() + 1) * (k + 1));
      loss = loss + (params[k] * c).sum();
    }
    loss.backward();
    reducer.average();
    const float mean_rank_factor = (comm.world_size() + 1) / 2.0f;  // mean of 1..W
    for (size_t k = 0; k < params.size(); ++k) {
      const torch::Tensor want = torch::arange(1, params[k].numel() + 1, torch::kFloat32) *
                                 (mean_rank_factor * static_cast<float>(k + 1));
      EXPECT_TRUE(params[k].grad().equal(want)) << "round " << round << " param " << k;
    }
  }
}

torch::nn::Sequential small_net() {
  return torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 4, 3).bias(false)),
                               torch::nn::BatchNorm2d(4), torch::nn::Linear(5, 3));
}

TEST(ModuleSync, BroadcastModuleMakesReplicasIdenticalAndTheCheckPasses) {
  Communicator& comm = *world();
  torch::manual_seed(1000 + comm.rank());  // different initial weights on every rank
  auto net = small_net();
  net->named_buffers()["1.running_mean"].fill_(comm.rank());
  torch::manual_seed(1000);
  const auto root_net = small_net();
  broadcast_module(*net, comm, 0);
  for (const auto& p : root_net->named_parameters()) {
    EXPECT_TRUE(net->named_parameters()[p.key()].equal(p.value())) << p.key();
  }
  EXPECT_TRUE(net->named_buffers()["1.running_mean"].equal(torch::zeros({4})));
  EXPECT_NO_THROW(check_replicas_consistent(*net, "D", comm));
}

TEST(ModuleSync, CheckNamesTheFirstDifferingParameterOnEveryRank) {
  Communicator& comm = *world();
  torch::manual_seed(7);
  auto net = small_net();
  const int odd_rank = comm.world_size() - 1;
  if (comm.rank() == odd_rank) {
    torch::NoGradGuard no_grad;
    net->named_parameters()["1.bias"][2] += 1e-7f;  // one element, one ulp-ish
    net->named_parameters()["2.weight"][0][0] += 1.0f;
  }
  try {
    check_replicas_consistent(*net, "G", comm);
    ADD_FAILURE() << "divergence not detected";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("G parameter '1.bias' differs between rank 0 and rank " +
                           std::to_string(odd_rank)),
              std::string::npos)
        << message;
  }
}

// The BN statistics ride on the gradients' all-reduce as GradReducer passengers and come back as
// the mean of the ranks; num_batches_tracked is not a statistic. A NaN loss flagged on one rank
// makes non_finite() 1 on every rank.
TEST(ModuleSync, BnStatisticsRideOnTheGradientAllReduce) {
  Communicator& comm = *world();
  auto net = small_net();
  auto buffers = net->named_buffers();
  buffers["1.running_mean"].fill_(static_cast<float>(comm.rank()));
  buffers["1.running_var"].fill_(static_cast<float>(2 * comm.rank() + 1));
  buffers["1.num_batches_tracked"].fill_(comm.rank());
  const std::vector<torch::Tensor> stats = bn_running_stats(*net);
  EXPECT_EQ(stats.size(), 2u);
  GradReducer reducer(net->parameters(), comm, 1 << 20, stats);
  if (comm.rank() == comm.world_size() - 1)
    reducer.flag_non_finite(torch::tensor(std::numeric_limits<float>::quiet_NaN()));
  reducer.average();
  const float w = static_cast<float>(comm.world_size());
  EXPECT_TRUE(buffers["1.running_mean"].equal(torch::full({4}, (w - 1) / 2)));
  EXPECT_TRUE(buffers["1.running_var"].equal(torch::full({4}, w)));  // mean of 1, 3, .. 2W-1
  EXPECT_EQ(buffers["1.num_batches_tracked"].item<int64_t>(), comm.rank());  // not a statistic
  EXPECT_EQ(reducer.non_finite().item<float>(), 1.0f);
}

// The last rank fails while its peers block in an all-reduce that it never joins: it throws
// (`--abort-drill`), or dies by SIGKILL with no chance to clean up (`--abort-drill kill`).
int abort_drill(int argc, char** argv) {
  const bool kill_rank = argc > 2 && std::strcmp(argv[2], "kill") == 0;
  MpiSession session(&argc, &argv);
  log::init({session.rank(), session.world_size(), "", false, true});
  return run_rank_guarded("test_distributed_comm", session, [&] {
    auto comm = make_communicator(CommConfig{"mpi"}, session, torch::Device(torch::kCPU));
    if (session.rank() == session.world_size() - 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      if (kill_rank) std::raise(SIGKILL);
      throw Error("abort drill: rank " + std::to_string(session.rank()) + " fails on purpose");
    }
    torch::Tensor t = torch::ones({4});
    comm->all_reduce(t, ReduceOp::kSum);  // never completes: the last rank is gone
    return 0;
  });
}

}  // namespace
}  // namespace dcgan::distributed

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--abort-drill") == 0) {
    return dcgan::distributed::abort_drill(argc, argv);
  }
  return dcgan::distributed::test::run_mpi_tests(argc, argv);
}
