// The one mapping from a torch dtype / ReduceOp to what MPI and NCCL call them. Counts passed to
// either library are always element counts, never bytes.
#pragma once

// The C API only: OpenMPI's deprecated C++ bindings would need libmpi_cxx at link time.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <cstdint>
#include <string>

#include <torch/torch.h>

#ifdef DCGAN_WITH_NCCL
#include <nccl.h>
#endif

#include "dcgan/distributed/communicator.h"

namespace dcgan::distributed::detail {

static_assert(sizeof(float) == 4 && sizeof(double) == 8, "MPI_FLOAT/MPI_DOUBLE sizes assumed");
static_assert(sizeof(int32_t) == 4 && sizeof(int64_t) == 8,
              "MPI_INT32_T/MPI_INT64_T sizes assumed");

struct WireType {
  MPI_Datatype mpi;
#ifdef DCGAN_WITH_NCCL
  ncclDataType_t nccl;
#endif
  size_t element_bytes;
};

// Throws Error naming `what` (the operation) for a dtype neither library should carry.
WireType wire_type(torch::ScalarType dtype, const std::string& what);

MPI_Op mpi_op(ReduceOp op);
#ifdef DCGAN_WITH_NCCL
ncclRedOp_t nccl_op(ReduceOp op);
#endif

// Throws Error unless `tensor` is defined and contiguous; `what` names the operation.
void require_contiguous(const torch::Tensor& tensor, const std::string& what);

}  // namespace dcgan::distributed::detail
