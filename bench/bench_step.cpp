// CPU step-time benchmark of the DCGAN step in C++ (the project's models), to be compared with
// bench/bench_step.py (the same step in Python PyTorch); bench/bench_step.sh runs both and
// prints the table. The step is the issue's: D on real, D on fake.detach(), D update, then the
// G step through a frozen D, with BCE and Adam(lr, (0.5, 0.999)) as in the tutorial.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <vector>

#include <torch/torch.h>

#include "dcgan/models/dcgan.h"

namespace {

struct BenchOptions {
  int64_t image_size = 64;
  int64_t batch = 32;
  int64_t nz = 100, ngf = 64, ndf = 64, channels = 3;
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

void set_requires_grad(torch::nn::Module& module, bool on) {
  for (auto& p : module.parameters()) p.set_requires_grad(on);
}

}  // namespace

int main(int argc, char** argv) {
  BenchOptions o;
  CLI::App app{"Times the DCGAN training step on the CPU (C++ side of bench_step.sh)."};
  app.add_option("--image-size", o.image_size, "32, 64 or 128")->capture_default_str();
  app.add_option("--batch", o.batch, "batch size")->capture_default_str();
  app.add_option("--threads", o.threads, "torch intra-op threads")->capture_default_str();
  app.add_option("--warmup", o.warmup, "untimed steps first")->capture_default_str();
  app.add_option("--steps", o.steps, "timed steps")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  torch::set_num_threads(o.threads);
  torch::manual_seed(999);
  dcgan::models::DcganOptions mo;
  mo.nz = o.nz, mo.ngf = o.ngf, mo.ndf = o.ndf, mo.channels = o.channels,
  mo.image_size = o.image_size;
  dcgan::models::Generator g(mo);
  dcgan::models::Discriminator d(mo);
  dcgan::models::init_weights(*g);
  dcgan::models::init_weights(*d);
  torch::optim::Adam opt_g(g->parameters(), torch::optim::AdamOptions(2e-4).betas({0.5, 0.999}));
  torch::optim::Adam opt_d(d->parameters(), torch::optim::AdamOptions(2e-4).betas({0.5, 0.999}));
  const auto real = torch::rand({o.batch, o.channels, o.image_size, o.image_size}) * 2 - 1;
  double sink = 0;  // the tutorial's logged scalars, so both sides pay for .item()

  auto step = [&] {
    // D on real, then on fake.detach(), then the D update.
    d->zero_grad();
    auto out = d->forward(real);
    auto err_d_real = torch::binary_cross_entropy(out, torch::full({o.batch}, 1.0f));
    err_d_real.backward();
    const double d_x = out.mean().item<double>();
    const auto fake = g->forward(torch::randn({o.batch, o.nz, 1, 1}));
    out = d->forward(fake.detach());
    auto err_d_fake = torch::binary_cross_entropy(out, torch::full({o.batch}, 0.0f));
    err_d_fake.backward();
    const double d_g_z1 = out.mean().item<double>();
    opt_d.step();
    // G through the updated, frozen D.
    g->zero_grad();
    set_requires_grad(*d, false);
    out = d->forward(fake);
    auto err_g = torch::binary_cross_entropy(out, torch::full({o.batch}, 1.0f));
    err_g.backward();
    set_requires_grad(*d, true);
    const double d_g_z2 = out.mean().item<double>();
    opt_g.step();
    sink += (err_d_real + err_d_fake).item<double>() + err_g.item<double>() + d_x + d_g_z1 + d_g_z2;
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
  std::printf("cpp median_ms=%.2f min_ms=%.2f cpu_ms=%.2f threads=%d batch=%lld size=%lld%s\n",
              median(wall_ms), *std::min_element(wall_ms.begin(), wall_ms.end()), median(cpu_ms),
              o.threads, static_cast<long long>(o.batch), static_cast<long long>(o.image_size),
              sink == sink ? "" : " nan");  // sink keeps the logged scalars alive
  return 0;
}
