// The train room's side of the CUDA library (cuda_parts.h), and the step graph's factory.
#include "cuda_parts.h"

#include "dcgan/common/cuda_library.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan::train {
namespace detail {

const CudaParts& cuda_parts() {
  const auto* parts = static_cast<const CudaParts*>(cuda_library::part(kCudaParts));
  if (parts == nullptr) {
    throw Error("the CUDA library is not loaded: a CUDA device must come from choose_device()");
  }
  return *parts;
}

}  // namespace detail

std::unique_ptr<StepGraph> make_step_graph(torch::Device device, at::Generator generator,
                                           int64_t warmup_steps) {
  if (!device.is_cuda()) {
    throw UsageError(str("--cuda-graph needs a CUDA device; this rank trains on ", device.str()));
  }
  if (!cuda_library::built()) {
    throw UsageError(
        str("--cuda-graph needs a build of torch with CUDA; this one has none (device ",
            device.str(), ")"));
  }
  if (generator.device().type() != torch::kCUDA) {
    throw Error("StepGraph: the step's noise generator must be a CUDA generator");
  }
  return detail::cuda_parts().make_step_graph(device, std::move(generator),
                                              std::max<int64_t>(warmup_steps, 1));
}

}  // namespace dcgan::train
