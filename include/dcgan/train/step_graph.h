// StepGraph: the whole training step as one CUDA graph (--cuda-graph). The first warm-up steps
// run eagerly (lazy set-up: cuDNN plans, the optimizer's state, NCCL's buffers, the autocast
// caches), the next one is captured, and every later step replays that capture: both phases, the
// gradient all-reduces and the fused Adam updates, in one launch.
//
// What makes a step capturable, and what the rest of the product does for it:
// - static inputs: the caller copies each batch into the same tensor before run(), and the noise
//   is drawn inside the step from a CUDA generator registered with the graph (each replay
//   advances its offset, so the draws equal the eager ones and its state checkpoints as usual);
// - no host read or wait inside: the step's flags stay on the device (UpdateGuard counts steps
//   there), NCCL only enqueues while capturing and Communicator::synchronize() holds the deadline
//   over the replays, the optimizer is FusedAdam with device step counters;
// - state updated in place only: parameters, gradients (views into the reducers' flat buffers),
//   Adam's moments and steps, the guard's counters, BN's running statistics and
//   num_batches_tracked (its += 1 is a device op; with a fixed momentum, no host read).
// The result tensors of a replayed step are the graph's own outputs: read them before the next
// run(). Every call orders itself after the caller's stream and the caller's stream after it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <ATen/core/Generator.h>
#include <torch/torch.h>

#include "dcgan/train/recipe.h"

namespace dcgan::train {

class StepGraph {
 public:
  using Step = std::function<StepResult()>;
  inline static constexpr int64_t kWarmupSteps = 3;

  virtual ~StepGraph() = default;

  // Runs one step: eagerly during warm-up, then the capture (and its first replay), then replays.
  virtual StepResult run(const Step& step) = 0;
  virtual bool captured() const = 0;
};

// `generator`: the CUDA generator the step draws its noise from. The graph itself lives in the CUDA
// library (step_graph_cuda.cpp), which the CUDA device's choice loaded. Throws UsageError when
// `device` is not a CUDA device or this build has no CUDA.
std::unique_ptr<StepGraph> make_step_graph(torch::Device device, at::Generator generator,
                                           int64_t warmup_steps = StepGraph::kWarmupSteps);

}  // namespace dcgan::train
