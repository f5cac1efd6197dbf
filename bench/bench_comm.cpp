// Compute vs all-reduce per training step under MPI: each rank runs the product's own step (the
// recipe dcgan-train runs: --model dcgan, ae or vae) on random data, through a communicator that
// times every collective the step makes (the gradient averages, which also carry the non-finite
// flag and the per-rank BN statistics).
// Rank 0 prints a table: per-step compute (step minus collectives), collective time, their share
// of the step, and, as the reference run in the same process, one raw all-reduce of the step's
// gradient bytes in a single call.
//
// usage: mpirun -np 2 bench_comm [--model M] [--batch B] [--steps N] [--warmup N] [--threads T]
//                                [--bucket-mb M] [--image-size S] [--backend mpi|auto|nccl]
#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "dcgan/common/log.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/grad_reducer.h"
#include "dcgan/distributed/mpi_session.h"
#include "dcgan/distributed/rank_guard.h"
#include "dcgan/train/config.h"
#include "dcgan/train/device.h"
#include "dcgan/train/recipe.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace distributed = dcgan::distributed;

struct Options {
  std::string model = "dcgan";
  int64_t batch = 8;  // per rank
  int steps = 5;
  int warmup = 1;
  int threads = 1;
  double bucket_mb = 4;
  int64_t image_size = 64;
  std::string backend = "mpi";
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Waits for queued device work so that wall time measures it (a no-op on CPU).
void sync_device(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// The slowest rank's median: a step is as slow as its slowest rank.
double slowest(distributed::Communicator& comm, const std::vector<double>& samples) {
  torch::Tensor t = torch::tensor({median(samples)}, torch::kFloat64);
  comm.all_reduce(t, distributed::ReduceOp::kMax);
  return t.item<double>();
}

// Forwards to the real communicator and adds the wall time of every all-reduce it makes (device
// work included) to `ms`: what the step spends in collectives.
class TimedCommunicator final : public distributed::Communicator {
 public:
  TimedCommunicator(distributed::Communicator& inner, const torch::Device& device)
      : inner_(inner), device_(device) {}
  int rank() const override { return inner_.rank(); }
  int world_size() const override { return inner_.world_size(); }
  std::string backend_name() const override { return inner_.backend_name(); }
  void all_reduce(torch::Tensor& tensor, distributed::ReduceOp op) override {
    sync_device(device_);
    const auto start = Clock::now();
    inner_.all_reduce(tensor, op);
    sync_device(device_);
    ms += ms_since(start);
    floats += tensor.numel();
    calls += 1;
  }
  void broadcast(torch::Tensor& tensor, int root) override { inner_.broadcast(tensor, root); }
  void all_gather(const torch::Tensor& in, torch::Tensor& out) override {
    inner_.all_gather(in, out);
  }
  void barrier() override { inner_.barrier(); }
  double ms = 0;
  int64_t floats = 0;
  int64_t calls = 0;

 private:
  distributed::Communicator& inner_;
  torch::Device device_;
};

struct Timings {
  std::vector<double> compute_ms, reduce_ms, raw_reduce_ms;
  int64_t floats = 0, calls = 0;  // per step
};

void print_table(distributed::Communicator& comm, const Options& o, const Timings& t,
                 int64_t grad_numel) {
  const double compute = slowest(comm, t.compute_ms), comm_ms = slowest(comm, t.reduce_ms),
               raw = slowest(comm, t.raw_reduce_ms);
  if (comm.rank() != 0) return;
  const double n = comm.world_size();
  const double mb = static_cast<double>(grad_numel) * 4 / 1e6;
  // Ring all-reduce moves 2(N-1)/N of the buffer through each rank's link ("bus bandwidth").
  const double bus_gbs = mb * 1e-3 * 2 * (n - 1) / n / (comm_ms * 1e-3);
  std::printf(
      "bench_comm: %s, %d ranks, backend %s, %lld x %lld px, batch %lld per rank (%lld global), "
      "%d intra-op thread(s), bucket %.1f MB, median of %d steps (slowest rank)\n",
      o.model.c_str(), comm.world_size(), comm.backend_name().c_str(),
      static_cast<long long>(o.image_size), static_cast<long long>(o.image_size),
      static_cast<long long>(o.batch), static_cast<long long>(o.batch * comm.world_size()),
      o.threads, o.bucket_mb, o.steps);
  std::printf("| %-44s | %12s | %10s |\n", "phase", "ms / step", "share");
  std::printf("|%s|%s|%s|\n", std::string(46, '-').c_str(), std::string(14, '-').c_str(),
              std::string(12, '-').c_str());
  const double step = compute + comm_ms;
  auto row = [&](const std::string& name, double ms) {
    std::printf("| %-44s | %12.2f | %9.1f%% |\n", name.c_str(), ms, 100 * ms / step);
  };
  row("compute (the step without its collectives)", compute);
  row("collectives (" + std::to_string(t.calls) + " all-reduces, " + std::to_string(t.floats) +
          " values)",
      comm_ms);
  row("step total", step);
  std::printf("gradient volume %.2f MB/step; all-reduce share %.1f%%; bus bandwidth %.2f GB/s\n",
              mb, 100 * comm_ms / step, bus_gbs);
  std::printf("reference: one raw all-reduce of the same %.2f MB = %.2f ms; step's/raw = %.2f\n",
              mb, raw, comm_ms / raw);
  std::printf("RESULT compute_ms=%.3f allreduce_ms=%.3f share=%.4f raw_ms=%.3f\n", compute, comm_ms,
              comm_ms / step, raw);
}

int run(const Options& o, const distributed::MpiSession& session) {
  torch::set_num_threads(o.threads);
  const torch::Device device =
      dcgan::train::choose_device(o.backend == "mpi" ? "cpu" : "auto", session.local_rank());
  auto inner = distributed::make_communicator(distributed::CommConfig{o.backend}, session, device);
  TimedCommunicator comm(*inner, device);
  dcgan::train::TrainConfig config;
  config.model = o.model;
  config.bucket_mb = o.bucket_mb;
  dcgan::train::resolve_model_defaults(&config);
  const dcgan::train::RunShape shape{o.image_size, 3, comm.world_size(), device.str()};
  const auto opts = torch::TensorOptions().device(device);
  auto recipe = dcgan::train::make_recipe(
      {config, shape, comm, device, torch::zeros({8, 3, o.image_size, o.image_size})});
  int64_t grad_numel = 0;
  for (const auto& m : recipe->modules()) {
    for (const auto& p : m.module->parameters()) grad_numel += p.numel();
  }
  torch::Tensor raw = torch::zeros({grad_numel}, opts);
  Timings t;
  for (int s = 0; s < o.warmup + o.steps; ++s) {
    const torch::Tensor real = torch::rand({o.batch, 3, o.image_size, o.image_size}, opts) * 2 - 1;
    torch::Tensor noise;
    if (recipe->noise_size() > 0) noise = torch::randn({o.batch, recipe->noise_size(), 1, 1}, opts);
    comm.barrier();  // every rank starts the step together: the collectives time no skew
    comm.ms = 0;
    comm.floats = comm.calls = 0;
    sync_device(device);
    const auto start = Clock::now();
    recipe->step(real, noise, s + 1);
    sync_device(device);
    const double step_ms = ms_since(start);
    const double reduce_ms = comm.ms;
    const int64_t floats = comm.floats, calls = comm.calls;
    comm.barrier();
    const auto raw_start = Clock::now();
    inner->all_reduce(raw, distributed::ReduceOp::kSum);
    sync_device(device);
    const double raw_ms = ms_since(raw_start);
    if (s < o.warmup) continue;
    t.compute_ms.push_back(step_ms - reduce_ms);
    t.reduce_ms.push_back(reduce_ms);
    t.raw_reduce_ms.push_back(raw_ms);
    t.floats = floats;
    t.calls = calls;
  }
  print_table(*inner, o, t, grad_numel);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"compute vs all-reduce time per training step (the product's recipe step)"};
  app.add_option("--model", o.model, "dcgan, ae or vae")
      ->check(CLI::IsMember({"dcgan", "ae", "vae"}));
  app.add_option("--batch", o.batch, "images per rank")->check(CLI::PositiveNumber);
  app.add_option("--steps", o.steps, "timed steps")->check(CLI::PositiveNumber);
  app.add_option("--warmup", o.warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  app.add_option("--threads", o.threads, "intra-op threads per rank")->check(CLI::PositiveNumber);
  app.add_option("--bucket-mb", o.bucket_mb, "GradReducer bucket size")->check(CLI::PositiveNumber);
  app.add_option("--image-size", o.image_size, "32, 64 or 128");
  app.add_option("--backend", o.backend, "mpi (CPU), auto or nccl (GPU)");
  CLI11_PARSE(app, argc, argv);
  return dcgan::run_guarded("bench_comm", [&] {
    distributed::MpiSession session(&argc, &argv);
    dcgan::log::init({session.rank(), session.world_size(), "", false, false});
    return distributed::run_rank_guarded("bench_comm", session, [&] { return run(o, session); });
  });
}
