// MpiSession: RAII for MPI_Init/MPI_Finalize, rank/world/local rank. Knows MPI; no GANs, no HDF5.
#pragma once

#include <string>

namespace dcgan::distributed {

class MpiSession {
 public:
  // MPI_Init_thread (FUNNELED); MPI_ERRORS_RETURN on MPI_COMM_WORLD right after. Without a
  // launcher this is an MPI singleton of world size 1. The local rank comes from
  // MPI_Comm_split_type(MPI_COMM_TYPE_SHARED). Throws UsageError when SLURM_NTASKS is set and
  // differs from the world size (a plain srun without PMIx starts N one-rank jobs).
  MpiSession(int* argc, char*** argv);
  ~MpiSession() noexcept;  // MPI_Finalize; never throws, never a collective other than Finalize
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }

  // MPI_Barrier on the world (start-up ordering only; no deadline).
  void barrier() const;

  // MPI_Bcast of a string from `root` (start-up only, like barrier): every rank returns root's.
  std::string broadcast(const std::string& value, int root) const;

  // Ends every rank of the job now (MPI_Abort); used on a fatal error on one rank so peers never
  // hang in a collective.
  [[noreturn]] void abort(int exit_code) const;

 private:
  int rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
};

}  // namespace dcgan::distributed
