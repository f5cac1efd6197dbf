// Trainer: the training loop of one rank, generic over the model recipe (recipe.h). It owns the
// loop, the step (through StepRunner) and the sync points; around them the start (run_start.h),
// what the run shows (reporter.h), FD during training (fd_monitor.h) and the benchmark
// (benchmark.h) each have their own home. Every module the recipe names is broadcast, checked
// across ranks and checkpointed by name, and given the run's memory format.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include <torch/torch.h>

#include "dcgan/data/dataset.h"
#include "dcgan/data/sampler.h"
#include "dcgan/distributed/communicator.h"
#include "dcgan/train/checkpoint.h"
#include "dcgan/train/config.h"
#include "dcgan/train/recipe.h"
#include "dcgan/train/reporter.h"

namespace dcgan::train {

class BatchSource;
class FdMonitor;
class StepRunner;

class Trainer {
 public:
  // `dataset` is handed to the loader thread during run(). `stop` (optional) is polled after
  // every step; a non-zero value on any rank stops every rank at the same step.
  Trainer(TrainConfig config, distributed::Communicator& comm, data::ShardDataset& dataset,
          torch::Device device, const std::atomic<int>* stop = nullptr);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Trains to the configured end; returns 0, or 75 (ExitCode::kPreempted) after a stop signal,
  // once the checkpoint is written. With --benchmark: run_benchmark (benchmark.h).
  int run();

  int64_t total_steps() const { return plan_.total_steps; }
  const TrainCursor& cursor() const { return cursor_; }
  const RunShape& shape() const { return shape_; }
  const TrainConfig& config() const { return config_; }
  Recipe& recipe() { return *recipe_; }

 private:
  friend class TrainerTestPeer;  // tests only: a hook called after every step

  // At a sync point: what every rank agrees on, any rank's stop signal first, then the time limit.
  enum class Stop { kNone, kSignal, kTimeLimit };

  data::EpochSampler make_sampler() const;  // this rank's batches; epoch arithmetic lives there
  torch::Tensor reference_images() const;   // the first 64 images of epoch 0's order
  BatchSource make_batches();  // from the cursor; the reader thread owns the data set after
  TrainingState state_view();
  // A step after which every rank reads the device-side flags: every --sync-every steps, the log,
  // sample and checkpoint steps and the last step.
  bool sync_point(int64_t step) const;
  // The periodic work after a step: log (and FD), replica check, samples, checkpoint; returns
  // whether it wrote a checkpoint.
  bool periodic_work(const StepResult& result, const StepPlace& place, FdMonitor* fd);
  void check_consistency();
  void write_checkpoint();
  Stop stop_agreed(std::chrono::steady_clock::time_point started);

  TrainConfig config_;
  distributed::Communicator& comm_;
  data::ShardDataset& dataset_;
  const std::atomic<int>* stop_;
  RunShape shape_;
  RunPlan plan_;
  TrainCursor cursor_;
  torch::Tensor reference_;  // float [-1, 1] NCHW on the CPU: samples/real.png, recon grids
  std::unique_ptr<StepRunner> runner_;
  std::unique_ptr<Recipe> recipe_;
  std::unique_ptr<Reporter> reporter_;
  std::function<void(int64_t step)> after_step_;
};

}  // namespace dcgan::train
