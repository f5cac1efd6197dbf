// PackComm over MPI_COMM_WORLD (the only raw MPI in dcgan-prep; calls wrapped in MPI_CHECK).
#pragma once

#include "dcgan/distributed/mpi_session.h"
#include "pack.h"

namespace dcgan::prep {

// An MPI launcher (mpirun, mpiexec, srun --mpi=pmix or pmi2) started this process, so MPI_Init
// joins its peers. Read from the environment, before MPI starts.
bool started_by_mpi_launcher();

// A collective that fails on one rank leaves the others waiting in it forever, so a failing MPI
// call prints its error (naming the rank) and ends the whole job (MpiSession::abort) instead of
// throwing; see Note [Errors under mpirun] in rank_status.h.
class MpiPackComm : public PackComm {
 public:
  explicit MpiPackComm(const distributed::MpiSession& session) : session_(session) {}
  int rank() const override { return session_.rank(); }
  int world_size() const override { return session_.world_size(); }
  std::string broadcast(const std::string& value) override;
  std::vector<std::string> gather(const std::string& value) override;

 private:
  const distributed::MpiSession& session_;
};

}  // namespace dcgan::prep
