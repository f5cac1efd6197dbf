// StepRunner: one training step of one rank, eager or through the CUDA graph (--cuda-graph): the
// next batch to the device, this rank's rows of one global noise draw, the recipe's step, the
// cursor advanced. It owns the step's noise generator (checkpointed with the run), the graph and
// the benchmark's phase timer, and waits for the device under the deadline.
#pragma once

#include <memory>

#include <torch/torch.h>

#include "dcgan/distributed/communicator.h"
#include "dcgan/train/batch_loader.h"
#include "dcgan/train/benchmark.h"
#include "dcgan/train/checkpoint.h"
#include "dcgan/train/config.h"
#include "dcgan/train/recipe.h"

namespace dcgan::train {

class StepGraph;

class StepRunner {
 public:
  // UsageError for --cuda-graph off a CUDA device or on the MPI backend.
  StepRunner(const TrainConfig& config, distributed::Communicator& comm, torch::Device device);
  ~StepRunner();
  StepRunner(const StepRunner&) = delete;
  StepRunner& operator=(const StepRunner&) = delete;

  // One step of `recipe` on the next batch of `batches` (kept in `host`); advances `cursor`.
  StepResult run(Recipe& recipe, BatchSource& batches, HostBatch* host, TrainCursor* cursor);
  // With a CUDA graph, waits for the queued replays under the deadline (before any host read).
  void wait_for_replays();
  // Waits for the device's queued work (under the deadline with a CUDA graph).
  void wait_for_device();

  torch::Device device() const { return device_; }
  at::Generator& noise_generator() { return z_generator_; }
  PhaseTimer& timer() { return timer_; }
  bool graphed() const { return graph_ != nullptr; }

 private:
  torch::Tensor draw_noise(const Recipe& recipe);  // this rank's rows of one global draw

  const TrainConfig& config_;
  distributed::Communicator& comm_;
  torch::Device device_;
  PhaseTimer timer_;  // the benchmark's phases (disabled in training)
  at::Generator z_generator_;
  std::unique_ptr<StepGraph> graph_;
  torch::Tensor static_real_;  // the graph's input batch
};

}  // namespace dcgan::train
