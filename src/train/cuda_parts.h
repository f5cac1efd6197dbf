// What the train room needs from the CUDA library (libdcgan_cuda.so, cuda_library.h): the parts
// that call libtorch_cuda or the CUDA runtime themselves. cuda_parts_cuda.cpp provides them as the
// table named kCudaParts when the library loads. Everything else the room does on a GPU goes
// through torch's device-generic API (the dispatcher, CUDA hooks, the device allocator), which
// libtorch_cpu answers once libtorch_cuda has loaded.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "dcgan/train/step_graph.h"

namespace dcgan::train::detail {

struct CudaParts {
  // The CUDA graph of the step (step_graph_cuda.cpp); `device` is a CUDA device.
  std::unique_ptr<StepGraph> (*make_step_graph)(torch::Device device, at::Generator generator,
                                                int64_t warmup_steps) = nullptr;
  // Sets c10's CUDA sync debug mode (0 off, 1 warn, 2 error) and returns the previous one.
  int (*exchange_sync_debug_mode)(int mode) = nullptr;
  // The CUDA device's name, as its properties give it.
  std::string (*device_name)(int index) = nullptr;
};

inline constexpr const char* kCudaParts = "train";

// Defined in the CUDA library only (step_graph_cuda.cpp), for its CudaParts.
std::unique_ptr<StepGraph> make_cuda_step_graph(torch::Device device, at::Generator generator,
                                                int64_t warmup_steps);
// The table; throws Error when the CUDA library is not loaded: a caller asked for CUDA work on a
// device that choose_device() did not choose.
const CudaParts& cuda_parts();

}  // namespace dcgan::train::detail
