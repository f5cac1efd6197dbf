// The thrower behind MPI_CHECK: the call, file:line, rank and MPI's own error string.
#include <mpi.h>

#include <string>

#include "dcgan/common/check.h"
#include "dcgan/common/log.h"

namespace dcgan::detail {

void throw_mpi_error(int code, const char* expr, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) text[0] = '\0';
  throw LibraryError(log::rank_tag() + " MPI error " + std::to_string(code) + " (" + text +
                     ") in " + expr + " at " + file + ":" + std::to_string(line));
}

}  // namespace dcgan::detail
