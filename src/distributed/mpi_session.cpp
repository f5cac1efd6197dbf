// MpiSession: MPI start-up and shutdown, ranks, and the srun-without-PMIx guard.
#include "dcgan/distributed/mpi_session.h"

#include <mpi.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "dcgan/common/check.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"

namespace dcgan::distributed {

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    // SERIALIZED: autograd's device thread may make the MPI call of a CUDA backward (sync-BN's
    // all-reduce, an overlapped bucket) while the main thread blocks in backward(); see Note
    // [Sync-BN's collective in backward].
    MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &thread_level_));
  } else {
    MPI_CHECK(MPI_Query_thread(&thread_level_));
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

bool MpiSession::thread_serialized() const { return thread_level_ >= MPI_THREAD_SERIALIZED; }

std::vector<std::string> MpiSession::all_gather_on_node(const std::string& value) const {
  MPI_Comm local = MPI_COMM_NULL;
  MPI_CHECK(
      MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local));
  MPI_CHECK(MPI_Comm_set_errhandler(local, MPI_ERRORS_RETURN));
  int size = static_cast<int>(value.size());
  int widest = 0;
  MPI_CHECK(MPI_Allreduce(&size, &widest, 1, MPI_INT, MPI_MAX, local));
  std::string mine = value;
  mine.resize(static_cast<size_t>(widest), '\0');
  std::string all(static_cast<size_t>(widest) * static_cast<size_t>(local_size_), '\0');
  MPI_CHECK(MPI_Allgather(mine.data(), widest, MPI_CHAR, all.data(), widest, MPI_CHAR, local));
  MPI_CHECK(MPI_Comm_free(&local));
  std::vector<std::string> out;
  for (int r = 0; r < local_size_; ++r) {
    std::string v = all.substr(static_cast<size_t>(r) * static_cast<size_t>(widest),
                               static_cast<size_t>(widest));
    v.erase(v.find_last_not_of('\0') + 1);  // npos + 1 == 0: all NULs -> empty
    out.push_back(std::move(v));
  }
  return out;
}

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
