// Reporter: what a run shows of itself. Rank 0 writes the run directory's config.toml,
// samples/real.png, metrics.jsonl, the TensorBoard events and the sample grids, and draws the
// console's progress line; every rank takes part in what is a collective (the stats' average,
// the grids under sync-BN, FD). It names each grid's file and tag, so recipes name neither.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "dcgan/distributed/communicator.h"
#include "dcgan/train/config.h"
#include "dcgan/train/recipe.h"

namespace dcgan::tensorboard {
class EventWriter;
}

namespace dcgan::train {

class FdMonitor;
class MetricsLog;

// Where the loop stands after a step: the step done, and the epoch and batch it trained on.
struct StepPlace {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t batch = 0;
};

class Reporter {
 public:
  Reporter(const TrainConfig& config, const RunShape& shape, distributed::Communicator& comm,
           const RunPlan& plan, Recipe& recipe);
  ~Reporter();
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  // At the start of a training invocation at `step`: rank 0 writes config.toml, real.png of
  // `reference` (once per run), opens metrics.jsonl (dropping lines after `step`) and a new
  // event file.
  void open(int64_t step, const torch::Tensor& reference);
  // Starts the clocks of images/s and the progress line: the loop starts at `step`.
  void start(int64_t step);
  // A log step: the rank-averaged stats, images/s, the learning rates and, when given (the
  // --eval-every steps), FD from `fd` (every rank: collectives), into metrics.jsonl, TensorBoard
  // and the console.
  void log(const StepResult& result, const StepPlace& place, FdMonitor* fd);
  // Rank 0 on a terminal: step/total, img/s, ETA, the last logged stats, at most every 250 ms.
  void progress(int64_t step);
  // The recipe's grids of the current weights at `step` (every rank renders; rank 0 writes).
  void samples(int64_t step);

  int64_t last_sample_step() const { return last_sample_step_; }
  const std::string& last_sample() const { return last_sample_; }

 private:
  const TrainConfig& config_;
  const RunShape& shape_;
  distributed::Communicator& comm_;
  const RunPlan& plan_;
  Recipe& recipe_;
  std::unique_ptr<MetricsLog> metrics_;           // rank 0
  std::unique_ptr<tensorboard::EventWriter> tb_;  // rank 0: <out>/tb/
  int64_t first_step_ = 0;                        // where this invocation started
  std::chrono::steady_clock::time_point start_, log_clock_, last_progress_;
  int64_t log_clock_step_ = 0;
  std::string progress_stats_;  // the last console stats
  int64_t last_sample_step_ = -1;
  std::string last_sample_;
};

}  // namespace dcgan::train
