// Compute vs gradient all-reduce per DCGAN step under MPI: each rank runs the GAN step's
// forward/backward work (D on real and on fake, G through D) for the 64x64 DCGAN, then averages
// D's and G's flat gradient buffers with the GradReducer. Rank 0 prints a table: per-step
// compute time, all-reduce time of each buffer, the all-reduce share of the step, and, as the
// reference run in the same process, one raw all-reduce of the same bytes in a single call.
//
// usage: mpirun -np 2 bench_comm [--batch B] [--steps N] [--warmup N] [--threads T]
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
#include "dcgan/models/dcgan.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace distributed = dcgan::distributed;

struct Options {
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

struct Timings {
  std::vector<double> compute_ms, d_reduce_ms, g_reduce_ms, raw_reduce_ms;
  std::vector<double> skew_ms;  // waiting in a barrier for the slowest rank's compute
};

// The GAN step's compute, the D and G averages, and the raw reference, timed separately.
void one_step(dcgan::models::Generator& g, dcgan::models::Discriminator& d,
              distributed::GradReducer& rd, distributed::GradReducer& rg,
              distributed::Communicator& comm, const Options& o, const torch::Device& device,
              torch::Tensor& raw, Timings* t) {
  const auto opts = torch::TensorOptions().device(device);
  const torch::Tensor real = torch::rand({o.batch, 3, o.image_size, o.image_size}, opts) * 2 - 1;
  const torch::Tensor z = torch::randn({o.batch, 100, 1, 1}, opts);
  const torch::Tensor ones = torch::ones({o.batch}, opts), zeros = torch::zeros({o.batch}, opts);
  sync_device(device);
  auto start = Clock::now();
  rd.zero_grad();
  rg.zero_grad();
  torch::binary_cross_entropy(d(real), ones).backward();  // D on real
  const torch::Tensor fake = g(z);
  torch::binary_cross_entropy(d(fake.detach()), zeros).backward();  // D on fake
  // G through D (the trainer freezes D here; its extra D gradients cost the same compute).
  torch::binary_cross_entropy(d(fake), ones).backward();
  sync_device(device);
  const double compute = ms_since(start);
  // Ranks finish compute at different times; without this the first all-reduce would absorb
  // the wait for the slowest rank and look slower than it is.
  start = Clock::now();
  comm.barrier();
  const double skew = ms_since(start);
  start = Clock::now();
  rd.average();
  sync_device(device);
  const double d_ms = ms_since(start);
  start = Clock::now();
  rg.average();
  sync_device(device);
  const double g_ms = ms_since(start);
  start = Clock::now();
  comm.all_reduce(raw, distributed::ReduceOp::kSum);
  sync_device(device);
  const double raw_ms = ms_since(start);
  if (t != nullptr) {
    t->compute_ms.push_back(compute);
    t->d_reduce_ms.push_back(d_ms);
    t->g_reduce_ms.push_back(g_ms);
    t->raw_reduce_ms.push_back(raw_ms);
    t->skew_ms.push_back(skew);
  }
}

void print_table(distributed::Communicator& comm, const Options& o, const Timings& t,
                 int64_t d_numel, int64_t g_numel, size_t d_buckets, size_t g_buckets) {
  const double compute = slowest(comm, t.compute_ms), d_ms = slowest(comm, t.d_reduce_ms),
               g_ms = slowest(comm, t.g_reduce_ms), raw = slowest(comm, t.raw_reduce_ms),
               skew = slowest(comm, t.skew_ms);
  if (comm.rank() != 0) return;
  const double n = comm.world_size();
  const double mb = (d_numel + g_numel) * 4 / 1e6;
  const double comm_ms = d_ms + g_ms;
  // Ring all-reduce moves 2(N-1)/N of the buffer through each rank's link ("bus bandwidth").
  const double bus_gbs = mb * 1e-3 * 2 * (n - 1) / n / (comm_ms * 1e-3);
  std::printf(
      "bench_comm: %d ranks, backend %s, %lld x %lld px, batch %lld per rank (%lld global), "
      "%d intra-op thread(s), bucket %.1f MB, median of %d steps (slowest rank)\n",
      comm.world_size(), comm.backend_name().c_str(), static_cast<long long>(o.image_size),
      static_cast<long long>(o.image_size), static_cast<long long>(o.batch),
      static_cast<long long>(o.batch * comm.world_size()), o.threads, o.bucket_mb, o.steps);
  std::printf("| %-38s | %12s | %10s |\n", "phase", "ms / step", "share");
  std::printf("|%s|%s|%s|\n", std::string(40, '-').c_str(), std::string(14, '-').c_str(),
              std::string(12, '-').c_str());
  const double step = compute + comm_ms;
  auto row = [&](const std::string& name, double ms) {
    std::printf("| %-38s | %12.2f | %9.1f%% |\n", name.c_str(), ms, 100 * ms / step);
  };
  row("compute (D real + D fake + G fwd/bwd)", compute);
  row("all-reduce D (" + std::to_string(d_numel) + " fl, " + std::to_string(d_buckets) + " bkt)",
      d_ms);
  row("all-reduce G (" + std::to_string(g_numel) + " fl, " + std::to_string(g_buckets) + " bkt)",
      g_ms);
  row("step total", step);
  std::printf(
      "(not in the step total: up to %.2f ms/step waiting for the slowest rank's compute)\n", skew);
  std::printf("gradient volume %.2f MB/step; all-reduce share %.1f%%; bus bandwidth %.2f GB/s\n",
              mb, 100 * comm_ms / step, bus_gbs);
  std::printf("reference: one raw all-reduce of the same %.2f MB = %.2f ms; bucketed/raw = %.2f\n",
              mb, raw, comm_ms / raw);
  std::printf("RESULT compute_ms=%.3f allreduce_ms=%.3f share=%.4f raw_ms=%.3f\n", compute, comm_ms,
              comm_ms / step, raw);
}

int run(const Options& o, const distributed::MpiSession& session) {
  torch::set_num_threads(o.threads);
  torch::manual_seed(1234);
  torch::Device device(torch::kCPU);
  if (o.backend != "mpi" && torch::cuda::is_available()) {
    device = torch::Device(torch::kCUDA,
                           session.local_rank() % static_cast<int>(torch::cuda::device_count()));
  }
  auto comm = distributed::make_communicator(distributed::CommConfig{o.backend}, session, device);
  dcgan::models::DcganOptions mo;
  mo.image_size = o.image_size;
  dcgan::models::Generator g(mo);
  dcgan::models::Discriminator d(mo);
  g->to(device);
  d->to(device);
  const auto bucket_bytes = static_cast<size_t>(o.bucket_mb * 1024 * 1024);
  distributed::GradReducer rd(d->parameters(), *comm, bucket_bytes);
  distributed::GradReducer rg(g->parameters(), *comm, bucket_bytes);
  torch::Tensor raw =
      torch::zeros({rd.numel() + rg.numel()}, torch::TensorOptions().device(device));
  Timings timings;
  for (int s = 0; s < o.warmup + o.steps; ++s) {
    one_step(g, d, rd, rg, *comm, o, device, raw, s < o.warmup ? nullptr : &timings);
  }
  print_table(*comm, o, timings, rd.numel(), rg.numel(), rd.num_buckets(), rg.num_buckets());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"compute vs gradient all-reduce time per DCGAN step"};
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
