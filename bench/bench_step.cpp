// CPU step-time benchmark of the product's own step: the recipe dcgan-train runs (--model dcgan,
// ae or vae), built by make_recipe. For dcgan it is compared with bench/bench_step.py (the
// tutorial's step in Python PyTorch); bench/bench_step.sh runs both and prints the table.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

#include <torch/torch.h>

#include "dcgan/distributed/communicator.h"
#include "dcgan/train/config.h"
#include "dcgan/train/precision.h"
#include "dcgan/train/recipe.h"

namespace {

struct BenchOptions {
  std::string model = "dcgan";
  int64_t image_size = 64;
  int64_t batch = 32;
  int64_t nz = 100, ngf = 64, ndf = 64, channels = 3;
  std::string precision = "fp32";
  std::string optimizer = "fused";
  bool channels_last = false;
  int threads = 2;
  int warmup = 3;
  int steps = 10;
};

// CPU time of the whole process (all threads): on a shared, loaded machine it tracks the work done
// better than wall time, which also counts the time other processes held the cores.
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions o;
  CLI::App app{"Times the product's training step on the CPU (C++ side of bench_step.sh)."};
  app.add_option("--model", o.model, "dcgan, ae or vae")
      ->check(CLI::IsMember({"dcgan", "ae", "vae"}))
      ->capture_default_str();
  app.add_option("--image-size", o.image_size, "32, 64 or 128")->capture_default_str();
  app.add_option("--batch", o.batch, "batch size")->capture_default_str();
  app.add_option("--threads", o.threads, "torch intra-op threads")->capture_default_str();
  app.add_option("--precision", o.precision, "fp32, tf32 or bf16 (dcgan-train's)")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}))
      ->capture_default_str();
  app.add_option("--optimizer", o.optimizer, "fused or torch (dcgan-train's)")
      ->check(CLI::IsMember({"fused", "torch"}))
      ->capture_default_str();
  app.add_flag("--channels-last", o.channels_last, "channels-last models and batch");
  app.add_option("--warmup", o.warmup, "untimed steps first")->capture_default_str();
  app.add_option("--steps", o.steps, "timed steps")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  torch::set_num_threads(o.threads);
  // The product's own step on the world-size-1 communicator: what dcgan-train runs.
  dcgan::train::TrainConfig config;
  config.model = o.model;
  config.nz = o.nz, config.ngf = o.ngf, config.ndf = o.ndf;
  config.precision = o.precision;
  config.optimizer = o.optimizer;
  config.channels_last = o.channels_last;
  dcgan::train::resolve_model_defaults(&config);
  const dcgan::train::RunShape shape{o.image_size, o.channels, 1, "cpu"};
  auto comm = dcgan::distributed::make_local_communicator();
  auto recipe =
      dcgan::train::make_recipe({config, shape, *comm, torch::kCPU,
                                 torch::zeros({8, o.channels, o.image_size, o.image_size})});
  const auto format = dcgan::train::memory_format(o.channels_last);
  for (const auto& m : recipe->modules()) dcgan::train::set_memory_format(*m.module, format);
  const auto real =
      (torch::rand({o.batch, o.channels, o.image_size, o.image_size}) * 2 - 1).contiguous(format);
  double sink = 0;  // the logged scalars read on the host, as the tutorial's .item() calls do
  int64_t step_number = 0;
  auto step = [&] {
    torch::Tensor noise;
    if (recipe->noise_size() > 0) noise = torch::randn({o.batch, recipe->noise_size(), 1, 1});
    const auto result = recipe->step(real, noise, ++step_number);
    sink += result.stats.sum().item<double>();
  };

  for (int i = 0; i < o.warmup; ++i) step();
  std::vector<double> wall_ms, cpu_ms;
  for (int i = 0; i < o.steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = process_cpu_ms();
    step();
    cpu_ms.push_back(process_cpu_ms() - c0);
    wall_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  // One machine-readable line: median and min wall ms/step, median CPU ms/step (all threads).
  std::printf(
      "cpp model=%s precision=%s optimizer=%s channels_last=%d median_ms=%.2f min_ms=%.2f "
      "cpu_ms=%.2f threads=%d batch=%lld size=%lld%s\n",
      o.model.c_str(), o.precision.c_str(), o.optimizer.c_str(), o.channels_last ? 1 : 0,
      median(wall_ms), *std::min_element(wall_ms.begin(), wall_ms.end()), median(cpu_ms), o.threads,
      static_cast<long long>(o.batch), static_cast<long long>(o.image_size),
      sink == sink ? "" : " nan");  // sink keeps the logged scalars alive
  return 0;
}
