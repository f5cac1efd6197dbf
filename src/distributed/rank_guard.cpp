// One rank's failure ends the job (see rank_guard.h).
#include "dcgan/distributed/rank_guard.h"

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/main_guard.h"

namespace dcgan::distributed {

int run_rank_guarded(const char* tool, const MpiSession& session,
                     const std::function<int()>& body) {
  const int code = run_guarded(tool, body);
  const bool failed =
      code != static_cast<int>(ExitCode::kOk) && code != static_cast<int>(ExitCode::kPreempted);
  if (failed && session.world_size() > 1) {
    log::error(std::string(tool) + ": ending all ranks of the job (MPI_Abort, exit code " +
               std::to_string(code) + ")");
    session.abort(code);
  }
  return code;
}

}  // namespace dcgan::distributed
