// dtype and reduction-op mapping shared by the MPI and NCCL communicators.
#include "wire_types.h"

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"

namespace dcgan::distributed::detail {

WireType wire_type(torch::ScalarType dtype, const std::string& what) {
  switch (dtype) {
#ifdef DCGAN_WITH_NCCL
    case torch::kFloat32:
      return {MPI_FLOAT, ncclFloat32, 4};
    case torch::kFloat64:
      return {MPI_DOUBLE, ncclFloat64, 8};
    case torch::kInt32:
      return {MPI_INT32_T, ncclInt32, 4};
    case torch::kInt64:
      return {MPI_INT64_T, ncclInt64, 8};
#else
    case torch::kFloat32:
      return {MPI_FLOAT, 4};
    case torch::kFloat64:
      return {MPI_DOUBLE, 8};
    case torch::kInt32:
      return {MPI_INT32_T, 4};
    case torch::kInt64:
      return {MPI_INT64_T, 8};
#endif
    default:
      throw Error(dcgan::str(log::rank_tag(), " ", what, ": unsupported dtype ", dtype,
                             " (float32, float64, int32 and int64 are supported)"));
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return MPI_SUM;
    case ReduceOp::kMax:
      return MPI_MAX;
    case ReduceOp::kMin:
      return MPI_MIN;
  }
  throw Error("mpi_op: unknown ReduceOp");
}

#ifdef DCGAN_WITH_NCCL
ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kMin:
      return ncclMin;
  }
  throw Error("nccl_op: unknown ReduceOp");
}
#endif

void require_contiguous(const torch::Tensor& tensor, const std::string& what) {
  if (!tensor.defined()) throw Error(dcgan::str(log::rank_tag(), " ", what, ": undefined tensor"));
  if (!tensor.is_contiguous()) {
    throw Error(dcgan::str(log::rank_tag(), " ", what, ": tensor of shape ", tensor.sizes(),
                           " is not contiguous (call .contiguous() first)"));
  }
}

}  // namespace dcgan::distributed::detail
