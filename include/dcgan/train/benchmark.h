// What dcgan-train --benchmark measures and prints. PhaseTimer: where a step's time goes. The
// trainer and the recipes' steps call lap(phase) at each phase boundary; while the timer is enabled
// each lap waits for the device (so the work queued so far is charged to the phase that queued it)
// and adds the time since the previous lap to `phase`. Disabled (the default, and always in
// training), lap() is a no-op. The phases: data (batch and noise), D and G (forward and backward;
// the AE/VAE: model), all-reduce (the wait for the gradient reductions that backward did not hide),
// optimizer (the non-finite check and Adam), other.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "dcgan/distributed/communicator.h"
#include "dcgan/train/config.h"
#include "dcgan/train/precision.h"

namespace dcgan::train {

class PhaseTimer {
 public:
  explicit PhaseTimer(torch::Device device) : device_(device) {}

  void enable(bool on);  // on: clears the totals and starts the clock
  bool enabled() const { return enabled_; }
  void lap(const char* phase);
  // Seconds per phase, in the order first lapped.
  const std::vector<std::pair<std::string, double>>& seconds() const { return seconds_; }

 private:
  void wait_for_device() const;

  torch::Device device_;
  bool enabled_ = false;
  std::chrono::steady_clock::time_point last_;
  std::vector<std::pair<std::string, double>> seconds_;
};

// lap() through a pointer that may be null (a step built without a timer).
inline void lap(PhaseTimer* timer, const char* phase) {
  if (timer != nullptr) timer->lap(phase);
}

// The host syncs of a stretch of steps, counted two ways from start() to stop():
// - the project's own waits on collectives (distributed::host_wait_count(): synchronize(), MPI
//   waits, an NCCL enqueue still in progress);
// - c10's synchronising CUDA calls (item(), blocking copies, stream syncs): c10's sync debug mode
//   is set to warn, and a c10::WarningHandler on this thread counts those warnings instead of
//   printing them (the autograd engine replays its device threads' warnings on this thread).
// On the CPU c10_syncs() is -1 (not applicable).
class SyncCounter {
 public:
  explicit SyncCounter(torch::Device device);
  ~SyncCounter();
  SyncCounter(const SyncCounter&) = delete;
  SyncCounter& operator=(const SyncCounter&) = delete;
  void start();
  void stop();
  int64_t host_waits() const { return host_waits_; }
  int64_t c10_syncs() const { return c10_syncs_; }

 private:
  struct Impl;
  torch::Device device_;
  std::unique_ptr<Impl> impl_;
  int64_t host_waits_ = 0;
  int64_t c10_syncs_ = -1;
};

// The peak memory of the run so far on `device`: the CUDA caching allocator's peak of allocated
// bytes, or on the CPU the process's peak resident set.
int64_t peak_memory_bytes(torch::Device device);

// The device's dense peak in TFLOP/s for `precision` where it is known (NVIDIA H100 and H200
// SXM: bf16 989, tf32 495, fp32 67), else 0. DCGAN_PEAK_TFLOPS in the environment overrides it,
// for any device, the CPU included.
double device_peak_tflops(torch::Device device, Precision precision);

// The device in words: the GPU's name, or the CPU's model.
std::string device_name(torch::Device device);

struct BenchmarkFigures {
  double images_per_s = 0;                               // global: all ranks
  double step_ms = 0;                                    // free-running
  double flops_per_image = 0;                            // the recipe's floor (0: not worked out)
  int64_t peak_bytes = 0;                                // this rank's device
  double peak_tflops = 0;                                // 0: unknown
  std::vector<std::pair<std::string, double>> phase_ms;  // per step; empty with a CUDA graph
  double host_waits_per_step = 0;                        // SyncCounter, over the timed steps
  double c10_syncs_per_step = -1;                        // -1: not applicable (CPU)
};

// The benchmark's table, then one machine-readable line starting with "benchmark:".
std::string benchmark_table(const TrainConfig& config, const RunShape& shape, int64_t warmup,
                            int64_t steps, const BenchmarkFigures& figures);

class BatchSource;
class Recipe;
class StepRunner;
struct TrainCursor;

// What a benchmark runs on: the trainer's parts, set up as for training.
struct BenchmarkRun {
  const TrainConfig& config;
  const RunShape& shape;
  distributed::Communicator& comm;
  Recipe& recipe;
  StepRunner& runner;
  BatchSource& batches;
  TrainCursor& cursor;
  const std::atomic<int>* stop = nullptr;  // a signal ends the benchmark with no figures
};

// --benchmark STEPS: a warm-up, STEPS timed steps, STEPS steps with each phase timed (eager
// only), then the table (rank 0). Writes nothing into the run directory; returns 0.
int run_benchmark(const BenchmarkRun& run);

}  // namespace dcgan::train
