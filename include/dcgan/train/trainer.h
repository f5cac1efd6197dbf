// Trainer: the training loop of one rank, generic over the model recipe (recipe.h). Builds the
// recipe, resumes or broadcasts rank 0's start, then runs the recipe's step over the sampler's
// batches with the periodic work (log, consistency check, sample, checkpoint) and the cross-rank
// preemption agreement around it, at the sync points where the step's device-side flags are read.
// Every module the recipe names is broadcast, checked across ranks and checkpointed by name, and
// given the run's memory format (the recipe's reducers average its per-rank BN statistics).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "dcgan/data/dataset.h"
#include "dcgan/data/sampler.h"
#include "dcgan/distributed/communicator.h"
#include "dcgan/train/batch_loader.h"
#include "dcgan/train/benchmark.h"
#include "dcgan/train/checkpoint.h"
#include "dcgan/train/config.h"
#include "dcgan/train/recipe.h"

namespace dcgan::tensorboard {
class EventWriter;
}
namespace dcgan::eval {
class FeatureExtractor;
}

namespace dcgan::train {

class MetricsLog;
class StepGraph;

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
  // once the checkpoint is written. With --benchmark: run_benchmark().
  int run();

  int64_t total_steps() const { return total_steps_; }
  const TrainCursor& cursor() const { return cursor_; }
  const RunShape& shape() const { return shape_; }
  const TrainConfig& config() const { return config_; }
  Recipe& recipe() { return *recipe_; }

 private:
  friend class TrainerTestPeer;  // tests only: a hook called after every step

  // The batch source: the reader thread, or the data set on the device (--data-on-device).
  struct Batches {
    Batches();
    Batches(Batches&&) noexcept;
    ~Batches();
    HostBatch next();
    std::unique_ptr<BatchLoader> loader;
    std::unique_ptr<DeviceBatches> on_device;
  };
  Batches make_batches();
  // --benchmark STEPS: a warm-up, STEPS timed steps, STEPS steps with each phase timed (eager
  // only), then the table (rank 0). Writes nothing into the run directory; returns 0.
  int run_benchmark();
  // With a CUDA graph, waits for the queued replays under the deadline (before any host read).
  void wait_for_replays();
  // Waits for the device's queued work (under the deadline with a CUDA graph).
  void wait_for_device();
  data::EpochSampler make_sampler() const;  // this rank's batches; epoch arithmetic lives there
  torch::Tensor reference_images() const;   // the first 64 images of epoch 0's order
  void start_state();  // fresh init or resume, then rank 0's state to every rank
  void warn_if_not_a_continuation(const CheckpointInfo& info) const;  // a resume on another shape
  TrainingState state_view();
  std::string choose_checkpoint();  // the --resume directory, the same on every rank
  void import_modules();            // --init-from: every module from its state_dict file
  void check_same_resume_step();
  torch::Tensor draw_noise();  // this rank's rows of one global draw
  // One step: the next batch (into `host`) and fresh noise through the recipe's step, eager or
  // through the CUDA graph; advances the cursor.
  StepResult train_step(Batches& batches, HostBatch* host);
  void after_each_step(const StepResult& result, int64_t batch, int64_t epoch, MetricsLog* metrics);
  void log_metrics(const StepResult& result, int64_t batch, int64_t epoch, MetricsLog* metrics);
  void check_consistency();
  void write_samples();
  std::string write_checkpoint();
  // At a sync point: what every rank agrees on, any rank's stop signal first, then the time limit.
  enum class Stop { kNone, kSignal, kTimeLimit };
  Stop stop_agreed();
  // Gives the recipe's modules the run's memory format (--channels-last).
  void set_memory_formats();
  // A step after which every rank reads the device-side flags: every sync_every_ steps, the log,
  // sample and checkpoint steps and the last step.
  bool sync_point(int64_t step) const;
  void prepare_run_dir();
  // --eval-every: the extractor and the training images' statistics (every rank: the extraction
  // is shared), once per invocation; then the FD of the decoder's images, at eval steps.
  void prepare_eval();
  // Rank 0 on a terminal: the progress line (step/total, img/s, ETA, the last logged stats), at
  // most every 250 ms; `first_step` is where this invocation started.
  void show_progress(int64_t first_step);
  double measure_fd();

  TrainConfig config_;
  distributed::Communicator& comm_;
  data::ShardDataset& dataset_;
  torch::Device device_;
  const std::atomic<int>* stop_;
  RunShape shape_;
  int64_t batches_per_epoch_ = 0;
  int64_t total_steps_ = 0;
  int64_t sync_every_ = 1;    // --sync-every, resolved by device
  int64_t epochs_shown_ = 0;  // E of the console's [e/E]
  TrainCursor cursor_;
  torch::Tensor reference_;  // float [-1, 1] NCHW on the CPU: samples/real.png, recon grids
  std::unique_ptr<Recipe> recipe_;
  std::vector<std::string> stat_names_;
  at::Generator z_generator_;
  bool resumed_ = false;
  int64_t last_checkpoint_step_ = -1;
  int64_t last_sample_step_ = -1;
  std::string last_sample_;
  std::chrono::steady_clock::time_point log_clock_;
  std::chrono::steady_clock::time_point run_clock_;  // the training loop's start (--time-limit)
  int64_t log_clock_step_ = 0;
  std::function<void(int64_t step)> after_step_;
  PhaseTimer timer_;                              // the benchmark's phases (disabled in training)
  std::unique_ptr<StepGraph> graph_;              // --cuda-graph
  std::unique_ptr<tensorboard::EventWriter> tb_;  // rank 0: <out>/tb/
  torch::Tensor static_real_;                     // the graph's input batch
  std::string progress_stats_;                    // the last console stats
  std::chrono::steady_clock::time_point last_progress_;  // the last progress line
  std::unique_ptr<eval::FeatureExtractor> extractor_;    // --eval-every
  torch::Tensor real_mean_, real_cov_;                   // the training images' feature moments
};

}  // namespace dcgan::train
