// One training step of one rank, eager or through the CUDA graph.
#include "dcgan/train/step_runner.h"

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "dcgan/train/device.h"
#include "dcgan/train/precision.h"
#include "dcgan/train/step_graph.h"

namespace dcgan::train {
namespace {

// The step-noise RNG is seeded apart from the default one (model init, fixed noise) so the first
// training draw does not repeat the fixed noise.
constexpr int64_t kLatentSeedOffset = 1;

}  // namespace

StepRunner::StepRunner(const TrainConfig& config, distributed::Communicator& comm,
                       torch::Device device)
    : config_(config), comm_(comm), device_(device), timer_(device) {
  // The noise is drawn on the training device: on a GPU no host copy (and no wait for one) per
  // step, from a generator that a CUDA graph can replay.
  z_generator_ = make_generator(device_, static_cast<uint64_t>(config_.seed) + kLatentSeedOffset);
  if (!config_.cuda_graph) return;
  if (!device_.is_cuda()) {
    throw UsageError(str("--cuda-graph needs a CUDA device; this rank trains on ", device_.str()));
  }
  if (comm_.backend_name() == "mpi") {
    throw UsageError(
        "--cuda-graph needs the NCCL backend (--backend mpi stages every collective through "
        "the host)");
  }
  graph_ = make_step_graph(device_, z_generator_);
}

StepRunner::~StepRunner() = default;

torch::Tensor StepRunner::draw_noise(const Recipe& recipe) {
  // One global draw [b*N, width, 1, 1] from the shared RNG; this rank takes rows [r*b, (r+1)*b).
  // 1 rank x N*b and N ranks x b thus see the same noise (world-size invariance).
  const int64_t width = recipe.noise_size();
  if (width == 0) return {};
  const int64_t b = config_.batch_size;
  torch::Tensor all = torch::randn({b * comm_.world_size(), width, 1, 1}, z_generator_,
                                   torch::TensorOptions().device(device_));
  return all.narrow(0, comm_.rank() * b, b);
}

StepResult StepRunner::run(Recipe& recipe, BatchSource& batches, HostBatch* host,
                           TrainCursor* cursor) {
  *host = batches.next();
  const torch::Tensor real =
      to_training_batch(host->images, device_, memory_format(config_.channels_last));
  const int64_t step = cursor->step + 1;
  StepResult result;
  if (!graph_) {
    torch::Tensor noise = draw_noise(recipe);
    lap(&timer_, "data");
    result = recipe.step(real, noise, step);
  } else {
    // The graph reads its batch from one static tensor and draws its noise inside the step.
    if (!static_real_.defined()) static_real_ = torch::empty_like(real);
    static_real_.copy_(real);
    result = graph_->run([&] { return recipe.step(static_real_, draw_noise(recipe), step); });
  }
  cursor->step = step;
  cursor->epoch = host->after.epoch;
  cursor->batch = host->after.batch;
  return result;
}

void StepRunner::wait_for_replays() {
  // A host read behind a replay stuck on a dead peer would never return: wait under the deadline.
  if (graph_) comm_.synchronize("the CUDA graph's step");
}

void StepRunner::wait_for_device() {
  wait_for_replays();
  if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
}

}  // namespace dcgan::train
