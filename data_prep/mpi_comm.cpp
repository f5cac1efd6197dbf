// Broadcast and gather of small strings (status and shard results) for pack under mpirun.
#include "mpi_comm.h"

#include <mpi.h>

#include "dcgan/common/check.h"

namespace dcgan::prep {

std::string MpiPackComm::broadcast(const std::string& value) {
  long long length = static_cast<long long>(value.size());
  MPI_CHECK(MPI_Bcast(&length, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD));
  std::string out = rank_ == 0 ? value : std::string(static_cast<size_t>(length), '\0');
  if (length > 0)
    MPI_CHECK(MPI_Bcast(out.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD));
  return out;
}

std::vector<std::string> MpiPackComm::gather(const std::string& value) {
  int length = static_cast<int>(value.size());
  std::vector<int> lengths(static_cast<size_t>(world_size_), 0);
  MPI_CHECK(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, 0, MPI_COMM_WORLD));
  std::vector<int> offsets(static_cast<size_t>(world_size_), 0);
  int total = 0;
  for (int r = 0; r < world_size_; ++r) {
    offsets[static_cast<size_t>(r)] = total;
    total += lengths[static_cast<size_t>(r)];
  }
  std::string all(static_cast<size_t>(rank_ == 0 ? total : 0), '\0');
  MPI_CHECK(MPI_Gatherv(value.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(),
                        MPI_CHAR, 0, MPI_COMM_WORLD));
  std::vector<std::string> parts;
  if (rank_ != 0) return parts;
  for (int r = 0; r < world_size_; ++r)
    parts.push_back(all.substr(static_cast<size_t>(offsets[static_cast<size_t>(r)]),
                               static_cast<size_t>(lengths[static_cast<size_t>(r)])));
  return parts;
}

}  // namespace dcgan::prep
