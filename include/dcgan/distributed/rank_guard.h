// Failure on one rank must end the whole job: run_rank_guarded turns an exception on any rank into
// MPI_Abort while the MpiSession is still alive (its destructor's MPI_Finalize would otherwise
// wait for peers that are blocked in a collective, and the job would hang).
#pragma once

#include <functional>

#include "dcgan/distributed/mpi_session.h"

namespace dcgan::distributed {

// Runs `body` under dcgan::run_guarded (one printed line, documented exit code). When the code is
// neither 0 nor 75 (preempted, which every rank reaches together) and the job has more than one
// rank, flushes the log and calls MPI_Abort with that code, so every rank ends within seconds;
// otherwise returns the code. Use it inside the scope that owns `session`:
//   return run_guarded(tool, [&] { MpiSession s(&argc, &argv); return run_rank_guarded(tool, s,
//   body); });
int run_rank_guarded(const char* tool, const MpiSession& session, const std::function<int()>& body);

}  // namespace dcgan::distributed
