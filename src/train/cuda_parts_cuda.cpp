// The train room's CUDA parts (cuda_parts.h), registered when the CUDA library loads.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAFunctions.h>

#include "cuda_parts.h"
#include "dcgan/common/cuda_library.h"

namespace dcgan::train::detail {
namespace {

int exchange_sync_debug_mode(int mode) {
  const auto previous = c10::cuda::warning_state().get_sync_debug_mode();
  c10::cuda::warning_state().set_sync_debug_mode(static_cast<c10::cuda::SyncDebugMode>(mode));
  return static_cast<int>(previous);
}

std::string device_name(int index) { return at::cuda::getDeviceProperties(index)->name; }

const CudaParts kParts{&make_cuda_step_graph, &exchange_sync_debug_mode, &device_name};
const bool kProvided = (cuda_library::provide(kCudaParts, &kParts), true);

}  // namespace
}  // namespace dcgan::train::detail
