// dcgan-train --benchmark: the trainer's step timed free-running and phase by phase.
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "dcgan/train/benchmark.h"
#include "dcgan/train/recipe.h"
#include "dcgan/train/step_graph.h"
#include "dcgan/train/step_runner.h"

namespace dcgan::train {
namespace {

// Untimed steps before a benchmark times any (after a CUDA graph's own warm-up and capture).
constexpr int64_t kBenchmarkWarmupSteps = 5;

}  // namespace

int run_benchmark(const BenchmarkRun& run) {
  HostBatch host;
  // A stop signal (a timeout's SIGTERM) ends a benchmark at once: it has nothing to save, and a
  // rank that left without a word would leave the others waiting for the deadline.
  auto one_step = [&] {
    if (run.stop != nullptr && run.stop->load() != 0) {
      throw Error(str("the benchmark was stopped by signal ", run.stop->load(), " after step ",
                      run.cursor.step, "; no figures"));
    }
    run.runner.run(run.recipe, run.batches, &host, &run.cursor);
  };
  // Warm-up: lazy set-up, and with --cuda-graph its eager steps and the capture.
  const int64_t warmup =
      (run.runner.graphed() ? StepGraph::kWarmupSteps : 0) + kBenchmarkWarmupSteps;
  const int64_t steps = run.config.benchmark;
  for (int64_t i = 0; i < warmup; ++i) one_step();
  run.runner.wait_for_device();
  run.recipe.report(run.cursor.step);
  const torch::Device device = torch::Device(run.shape.device);
  const auto t0 = std::chrono::steady_clock::now();
  SyncCounter syncs(device);  // the steps' own host syncs, not the wait that ends the timing
  syncs.start();
  for (int64_t i = 0; i < steps; ++i) one_step();
  syncs.stop();
  run.runner.wait_for_device();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  run.recipe.report(run.cursor.step);
  // The phases: as many steps again, each phase waited for (which hides nothing: their sum is
  // above the free-running step). A graph is one launch; it has no phases to split.
  std::vector<std::pair<std::string, double>> phases;
  if (!run.runner.graphed()) {
    PhaseTimer& timer = run.runner.timer();
    timer.enable(true);
    for (int64_t i = 0; i < steps; ++i) one_step();
    phases = timer.seconds();
    timer.enable(false);
    run.recipe.report(run.cursor.step);
  }
  const auto per_step = [steps](double total) { return total / static_cast<double>(steps); };
  BenchmarkFigures figures;
  figures.images_per_s = static_cast<double>(steps * run.config.batch_size * run.shape.world_size) /
                         std::max(seconds, 1e-9);
  figures.step_ms = 1e3 * per_step(seconds);
  figures.flops_per_image = run.recipe.step_flops_per_image();
  figures.peak_bytes = peak_memory_bytes(device);
  figures.peak_tflops = device_peak_tflops(device, parse_precision(run.config.precision));
  for (auto& [name, total] : phases) total = 1e3 * per_step(total);
  figures.phase_ms = phases;
  figures.host_waits_per_step = per_step(static_cast<double>(syncs.host_waits()));
  figures.c10_syncs_per_step =
      syncs.c10_syncs() < 0 ? -1.0 : per_step(static_cast<double>(syncs.c10_syncs()));
  if (run.comm.rank() == 0)
    log::info(benchmark_table(run.config, run.shape, warmup, steps, figures));
  run.comm.barrier();
  log::flush();
  return static_cast<int>(ExitCode::kOk);
}

}  // namespace dcgan::train
