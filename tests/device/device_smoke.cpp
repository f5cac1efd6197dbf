// device_smoke: the communicator's collectives on this machine's device, with values known in
// closed form, for launch/gpu_check.sh's second stage. On one GPU it is the only NCCL a
// one-GPU machine can run: all_reduce, broadcast, all_gather and barrier through the product's
// Communicator; the GradReducer's path with overlap (forced at world size 1, so its buckets go
// through NCCL too); and one all-reduce captured in a CUDA graph, replayed, then synchronize().
// On the CPU (--device cpu, any rank count under mpirun) the same checks run over MPI, without
// the graph. One line per check ("ok" or "FAIL" with the largest error); exit 1 when any fails.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include <torch/torch.h>

#ifdef DCGAN_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/common/str.h"
#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/grad_reducer.h"
#include "dcgan/distributed/mpi_session.h"
#include "dcgan/train/device.h"

namespace {

using dcgan::distributed::Communicator;
using dcgan::distributed::ReduceOp;

struct SmokeOptions {
  std::string device = "cuda";
  std::string backend = "auto";
  int comm_timeout_s = 60;
  int64_t numel = 1 << 20;  // 4 MiB of float32: past NCCL's small-message protocols
};

int failures = 0;

void report(const std::string& what, const torch::Tensor& got, const torch::Tensor& want) {
  const double err = (got.to(torch::kCPU, torch::kFloat64) - want.to(torch::kCPU, torch::kFloat64))
                         .abs()
                         .max()
                         .item<double>();
  const bool ok = err == 0.0;
  failures += ok ? 0 : 1;
  dcgan::log::info(
      dcgan::str("device_smoke: ", what, ": ", ok ? "ok" : "FAIL", " (largest error ", err, ")"));
}

// Rank r holds r + (i mod 1024) at element i: small integers, so every expected value below (sums
// over up to 8 ranks, halved) is exact in float32 whatever order NCCL adds in.
torch::Tensor rank_values(int64_t numel, int rank, const torch::Device& device) {
  return torch::arange(numel, torch::TensorOptions().dtype(torch::kFloat32).device(device))
             .remainder(1024) +
         rank;
}

void check_collectives(Communicator& comm, const SmokeOptions& o, const torch::Device& device) {
  const int w = comm.world_size();
  const int r = comm.rank();
  torch::Tensor t = rank_values(o.numel, r, device);
  comm.all_reduce(t, ReduceOp::kSum);
  // sum over ranks of (q + v) = w*v + w(w-1)/2
  report("all_reduce sum", t, rank_values(o.numel, 0, device) * w + w * (w - 1) / 2);

  torch::Tensor b = rank_values(o.numel, r, device);
  comm.broadcast(b, 0);
  report("broadcast from rank 0", b, rank_values(o.numel, 0, device));

  torch::Tensor gathered;
  comm.all_gather(rank_values(16, r, device), gathered);
  torch::Tensor want = torch::stack(
      [&] {
        std::vector<torch::Tensor> rows;
        for (int q = 0; q < w; ++q) rows.push_back(rank_values(16, q, device));
        return rows;
      }(),
      0);
  report("all_gather", gathered, want);

  comm.barrier();
  dcgan::log::info("device_smoke: barrier: ok");
}

// The reducer's own path: two parameters, gradients r+1 and 2(r+1), averaged. With overlap the
// buckets start from backward's hooks; at world size 1 the forced switch still sends them through
// the communicator.
void check_reducer(Communicator& comm, const torch::Device& device) {
  const int w = comm.world_size();
  torch::Tensor a = torch::zeros({1000}, torch::TensorOptions().device(device)).requires_grad_();
  torch::Tensor c = torch::zeros({3000}, torch::TensorOptions().device(device)).requires_grad_();
  dcgan::distributed::GradReducer reducer({a, c}, comm, /*bucket_bytes=*/4096, /*passengers=*/{},
                                          /*overlap=*/true, /*reduce_single_rank=*/true);
  for (int round = 0; round < 2; ++round) {
    reducer.zero_grad();
    reducer.arm();
    const double k = comm.rank() + 1;
    ((a * k).sum() + (c * (2 * k)).sum()).backward();
    reducer.finalize();
    const double mean_k = (w + 1) / 2.0;  // the mean of 1..w
    report(dcgan::str("GradReducer, ", reducer.num_buckets(), " buckets, overlap, round ", round),
           torch::cat({a.grad(), c.grad()}),
           torch::cat({torch::full({1000}, mean_k), torch::full({3000}, 2 * mean_k)}));
  }
}

#ifdef DCGAN_WITH_CUDA
// One all-reduce and a scale captured together, replayed three times, then synchronize().
void check_graph(Communicator& comm, const SmokeOptions& o, const torch::Device& device) {
  const int w = comm.world_size();
  torch::Tensor t = rank_values(o.numel, comm.rank(), device);
  const torch::Tensor start = t.clone();
  c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool(false, device.index());
  at::cuda::CUDAEvent inputs_ready;
  inputs_ready.record(c10::cuda::getCurrentCUDAStream(device.index()));
  inputs_ready.block(side);
  at::cuda::CUDAGraph graph;
  {
    // Capture, replays and the wait all on the side stream (a capture may not use the default).
    c10::cuda::CUDAStreamGuard on_side(side);
    comm.all_reduce(t, ReduceOp::kSum);  // warm-up outside the capture (NCCL's lazy set-up)
    side.synchronize();
    graph.capture_begin();
    t.mul_(0.5);
    comm.all_reduce(t, ReduceOp::kSum);
    graph.capture_end();
    t.copy_(start);
    for (int i = 0; i < 3; ++i) graph.replay();
    comm.synchronize("the smoke test's graph");
  }
  // Each replay: t <- sum over ranks of t/2. Starting from r + v, after 3 replays every rank holds
  // (w/2)^2 * (w*v + w(w-1)/2) / 2.
  const double scale = (w / 2.0) * (w / 2.0) / 2.0;
  report("all_reduce captured in a CUDA graph, 3 replays", t,
         (rank_values(o.numel, 0, device) * w + w * (w - 1) / 2) * scale);
}
#endif

int run(int argc, char** argv) {
  SmokeOptions o;
  CLI::App app{"device_smoke: the communicator's collectives on this device, checked"};
  app.add_option("--device", o.device, "cuda | cpu")->capture_default_str();
  app.add_option("--backend", o.backend, "auto | nccl | mpi")->capture_default_str();
  app.add_option("--comm-timeout", o.comm_timeout_s, "deadline of every wait, s")
      ->capture_default_str();
  app.add_option("--numel", o.numel, "elements per collective")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : static_cast<int>(dcgan::ExitCode::kUsage);
  }
  dcgan::distributed::MpiSession session(&argc, &argv);
  dcgan::log::init({session.rank(), session.world_size(), "", false, false});
  const torch::Device device = dcgan::train::choose_device(o.device, session.local_rank());
  dcgan::train::use_device(device);
  dcgan::distributed::CommConfig config;
  config.backend = o.backend;
  config.timeout = std::chrono::seconds(o.comm_timeout_s);
  std::unique_ptr<Communicator> comm =
      dcgan::distributed::make_communicator(config, session, device);
  dcgan::log::info(dcgan::str("device_smoke: ", comm->world_size(), " rank(s), backend ",
                              comm->backend_name(), ", device ", device.str()));
  check_collectives(*comm, o, device);
  check_reducer(*comm, device);
#ifdef DCGAN_WITH_CUDA
  if (device.is_cuda() && comm->backend_name() == "nccl") check_graph(*comm, o, device);
#endif
  comm->barrier();
  dcgan::log::info(dcgan::str("device_smoke: ", failures == 0 ? "all checks passed" : "FAILED"));
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  dcgan::log::init({});
  return dcgan::run_guarded("device_smoke", [&] { return run(argc, argv); });
}
