// The main of every tests/mpi/test_distributed_* binary: MPI session, one communicator shared by
// the tests, and an exit code that is non-zero on every rank when any rank failed.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>

#include "dcgan/common/log.h"
#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/mpi_session.h"

namespace dcgan::distributed::test {

// The communicator of the running binary (MPI backend, CPU).
inline Communicator*& world() {
  static Communicator* comm = nullptr;
  return comm;
}

// The MPI session of the running binary.
inline const MpiSession*& mpi_session() {
  static const MpiSession* session = nullptr;
  return session;
}

// Runs the gtest suites on every rank. Tests must not ASSERT before a collective (a rank that
// returns early would leave its peers waiting); they use EXPECT and check results afterwards.
inline int run_mpi_tests(int argc, char** argv) {
  MpiSession session(&argc, &argv);
  log::init({session.rank(), session.world_size(), "", false, false});
  torch::set_num_threads(1);
  ::testing::InitGoogleTest(&argc, argv);
  auto comm = make_communicator(CommConfig{"mpi"}, session, torch::Device(torch::kCPU));
  world() = comm.get();
  mpi_session() = &session;
  int failed = RUN_ALL_TESTS() == 0 ? 0 : 1;
  // Every rank exits with the worst result, so a failure on one rank fails the ctest run.
  torch::Tensor worst = torch::tensor({failed}, torch::kInt32);
  comm->all_reduce(worst, ReduceOp::kMax);
  world() = nullptr;
  mpi_session() = nullptr;
  return worst.item<int>();
}

}  // namespace dcgan::distributed::test
