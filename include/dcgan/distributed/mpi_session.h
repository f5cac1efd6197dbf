// MpiSession: RAII for MPI_Init/MPI_Finalize, rank/world/local rank. Knows MPI; no GANs, no HDF5.
#pragma once

#include <string>
#include <vector>

namespace dcgan::distributed {

class MpiSession {
 public:
  // MPI_Init_thread (SERIALIZED); MPI_ERRORS_RETURN on MPI_COMM_WORLD right after. Without a
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

  // Every rank of this node's values in local-rank order (start-up only: a collective of the
  // world, no deadline). Values may hold any bytes but no trailing NULs.
  std::vector<std::string> all_gather_on_node(const std::string& value) const;

  // MPI granted MPI_THREAD_SERIALIZED or more: a thread other than main's may call MPI while
  // main's waits (autograd's device thread during a CUDA backward).
  bool thread_serialized() const;

  // Ends every rank of the job now (MPI_Abort); used on a fatal error on one rank so peers never
  // hang in a collective.
  [[noreturn]] void abort(int exit_code) const;

 private:
  int rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  int thread_level_ = 0;  // what MPI_Init_thread provided
};

}  // namespace dcgan::distributed
