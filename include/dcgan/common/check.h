// CHECK macros for external libraries. Each records the expression, file:line, the rank and the
// library's own message, then throws dcgan::LibraryError. The throwing functions live in the room
// that links the library (MPI/NCCL/CUDA in distributed, HDF5 in data).
#pragma once

#include <string>

#include "dcgan/common/errors.h"

namespace dcgan::detail {

[[noreturn]] void throw_mpi_error(int code, const char* expr, const char* file, int line);
[[noreturn]] void throw_h5_error(long long code, const char* expr, const char* file, int line);
[[noreturn]] void throw_cuda_error(int code, const char* expr, const char* file, int line);
[[noreturn]] void throw_nccl_error(int code, const char* expr, const char* file, int line);

}  // namespace dcgan::detail

// MPI calls return MPI_SUCCESS (0); MPI_ERRORS_RETURN must be set right after MPI_Init.
#define MPI_CHECK(expr)                                                           \
  do {                                                                            \
    const int dcgan_mpi_rc_ = (expr);                                             \
    if (dcgan_mpi_rc_ != 0)                                                       \
      ::dcgan::detail::throw_mpi_error(dcgan_mpi_rc_, #expr, __FILE__, __LINE__); \
  } while (0)

// HDF5 calls return a negative herr_t / hid_t on failure.
#define H5_CHECK(expr)                                                          \
  do {                                                                          \
    const long long dcgan_h5_rc_ = static_cast<long long>(expr);                \
    if (dcgan_h5_rc_ < 0)                                                       \
      ::dcgan::detail::throw_h5_error(dcgan_h5_rc_, #expr, __FILE__, __LINE__); \
  } while (0)

// cudaSuccess and ncclSuccess are 0.
#define CUDA_CHECK(expr)                                                            \
  do {                                                                              \
    const int dcgan_cuda_rc_ = static_cast<int>(expr);                              \
    if (dcgan_cuda_rc_ != 0)                                                        \
      ::dcgan::detail::throw_cuda_error(dcgan_cuda_rc_, #expr, __FILE__, __LINE__); \
  } while (0)

#define NCCL_CHECK(expr)                                                            \
  do {                                                                              \
    const int dcgan_nccl_rc_ = static_cast<int>(expr);                              \
    if (dcgan_nccl_rc_ != 0)                                                        \
      ::dcgan::detail::throw_nccl_error(dcgan_nccl_rc_, #expr, __FILE__, __LINE__); \
  } while (0)
