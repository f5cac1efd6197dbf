// Broadcast and gather of small strings (statuses and shard results) for dcgan-prep under mpirun.
#include "mpi_comm.h"

#include <mpi.h>

#include <cstdlib>

#include "dcgan/common/check.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/main_guard.h"

namespace dcgan::prep {
namespace {

// Runs one collective; an MPI error ends the job (see MpiPackComm).
template <class Collective>
auto or_abort(const distributed::MpiSession& session, Collective&& collective) {
  try {
    return collective();
  } catch (const LibraryError& e) {
    report_error("dcgan-prep", e.what());  // the message names the call and this rank
    session.abort(static_cast<int>(ExitCode::kRuntime));
  }
}

}  // namespace

bool started_by_mpi_launcher() {
  // Open MPI's mpirun; PMIx (srun --mpi=pmix, Open MPI 5, PRRTE); PMI-1/2 (MPICH, srun --mpi=pmi2).
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (const char* value = std::getenv(name); value != nullptr && *value != '\0') return true;
  return false;
}

std::string MpiPackComm::broadcast(const std::string& value) {
  return or_abort(session_, [&] {
    long long length = static_cast<long long>(value.size());
    MPI_CHECK(MPI_Bcast(&length, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD));
    std::string out = rank() == 0 ? value : std::string(static_cast<size_t>(length), '\0');
    if (length > 0)
      MPI_CHECK(MPI_Bcast(out.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD));
    return out;
  });
}

std::vector<std::string> MpiPackComm::gather(const std::string& value) {
  return or_abort(session_, [&] {
    const int world = world_size();
    int length = static_cast<int>(value.size());
    std::vector<int> lengths(static_cast<size_t>(world), 0);
    MPI_CHECK(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD));
    std::vector<int> offsets(static_cast<size_t>(world), 0);
    int total = 0;
    for (int r = 0; r < world; ++r) {
      offsets[static_cast<size_t>(r)] = total;
      total += lengths[static_cast<size_t>(r)];
    }
    std::string all(static_cast<size_t>(rank() == 0 ? total : 0), '\0');
    MPI_CHECK(MPI_Gatherv(value.data(), length, MPI_CHAR, all.data(), lengths.data(),
                          offsets.data(), MPI_CHAR, 0, MPI_COMM_WORLD));
    std::vector<std::string> parts;
    if (rank() != 0) return parts;
    for (int r = 0; r < world; ++r)
      parts.push_back(all.substr(static_cast<size_t>(offsets[static_cast<size_t>(r)]),
                                 static_cast<size_t>(lengths[static_cast<size_t>(r)])));
    return parts;
  });
}

}  // namespace dcgan::prep
