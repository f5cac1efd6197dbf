// MpiSession: MPI start-up and shutdown, ranks, and the srun-without-PMIx guard.
#include "dcgan/distributed/mpi_session.h"

#include <mpi.h>

#include <cstdlib>
#include <string>

#include "dcgan/common/check.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"

namespace dcgan::distributed {

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided));
  }
  // Errors come back as codes, so MPI_CHECK can name the call and the rank before aborting.
  MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
  MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world_size_));
  MPI_Comm local = MPI_COMM_NULL;
  MPI_CHECK(
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local));
  MPI_CHECK(MPI_Comm_rank(local, &local_rank_));
  MPI_CHECK(MPI_Comm_size(local, &local_size_));
  MPI_CHECK(MPI_Comm_free(&local));

  if (const char* ntasks = std::getenv("SLURM_NTASKS"); ntasks != nullptr && *ntasks != '\0') {
    const int slurm_tasks = std::atoi(ntasks);
    if (slurm_tasks != world_size_) {
      throw UsageError("rank " + std::to_string(rank_) + ": SLURM_NTASKS=" + ntasks +
                       " but the MPI world has " + std::to_string(world_size_) +
                       " rank(s). HINT: launch with `srun --mpi=pmix` (or mpirun inside the "
                       "allocation); a plain srun without PMIx starts independent one-rank jobs");
    }
  }
}

MpiSession::~MpiSession() noexcept {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) {
    const int rc = MPI_Finalize();
    if (rc != MPI_SUCCESS) log::warn("MPI_Finalize returned " + std::to_string(rc));
  }
}

void MpiSession::barrier() const { MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); }

std::string MpiSession::broadcast(const std::string& value, int root) const {
  long long size = static_cast<long long>(value.size());
  MPI_CHECK(MPI_Bcast(&size, 1, MPI_LONG_LONG, root, MPI_COMM_WORLD));
  std::string out = rank_ == root ? value : std::string(static_cast<size_t>(size), '\0');
  if (size > 0)
    MPI_CHECK(MPI_Bcast(out.data(), static_cast<int>(size), MPI_CHAR, root, MPI_COMM_WORLD));
  return out;
}

void MpiSession::abort(int exit_code) const {
  log::flush();
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
}

}  // namespace dcgan::distributed
