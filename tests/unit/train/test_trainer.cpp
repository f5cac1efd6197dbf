// Trainer on a tiny synthetic data set (world size 1): exact resume, metrics.jsonl, sample grids,
// in-process preemption, and refusal of a resume whose shapes differ.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/png.h"
#include "dcgan/data/dataset.h"
#include "dcgan/train/device.h"
#include "dcgan/train/fingerprint.h"
#include "dcgan/train/image_grid.h"
#include "dcgan/train/step_graph.h"
#include "dcgan/train/trainer.h"
#include "support/test_support.h"
#include "support/trainer_peer.h"
#include "unit/train/train_fixtures.h"

namespace dcgan::test {
namespace {

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = std::make_unique<ScratchDir>("dcgan-trainer-data");
    make_synthetic_dataset(data_->path() + "/set", 64);  // 8 global batches of 8
  }
  static void TearDownTestSuite() { data_.reset(); }

  train::TrainConfig config(const std::string& out, int64_t steps) const {
    train::TrainConfig c;
    c.data = data_->path() + "/set";
    c.out = out;
    c.nz = 16;
    c.ngf = 8;
    c.ndf = 8;
    c.batch_size = 8;
    c.steps = steps;
    c.log_every = 2;
    c.sample_every = 4;
    c.ckpt_every = 4;
    c.keep = 3;
    c.device = "cpu";
    return c;
  }

  // Runs one Trainer to its end (or stop); returns its exit code. `inspect` sees it afterwards.
  int train(const train::TrainConfig& c, const std::function<void(train::Trainer&)>& inspect = {},
            const std::atomic<int>* stop = nullptr,
            const std::function<void(int64_t)>& after_step = {}) {
    auto comm = distributed::make_local_communicator();
    data::ShardDataset dataset(c.data);
    train::Trainer trainer(c, *comm, dataset, torch::Device(c.device == "cuda" ? "cuda:0" : "cpu"),
                           stop);
    train::TrainerTestPeer::set_after_step(trainer, after_step);
    const int code = trainer.run();
    if (inspect) inspect(trainer);
    return code;
  }

  static std::unique_ptr<ScratchDir> data_;
};
std::unique_ptr<ScratchDir> TrainerTest::data_;

struct Snapshot {
  std::vector<torch::Tensor> tensors;  // G and D parameters and buffers
  std::string optim_g, optim_d;
  static Snapshot of(train::Trainer& t) {
    Snapshot s;
    for (auto* m :
         {static_cast<torch::nn::Module*>(train::TrainerTestPeer::generator(t).get()),
          static_cast<torch::nn::Module*>(train::TrainerTestPeer::discriminator(t).get())}) {
      for (const auto& p : m->parameters()) s.tensors.push_back(p.detach().clone());
      for (const auto& b : m->buffers()) s.tensors.push_back(b.clone());
    }
    s.optim_g = train::optimizer_fingerprint(train::TrainerTestPeer::optimizer(t, "g"));
    s.optim_d = train::optimizer_fingerprint(train::TrainerTestPeer::optimizer(t, "d"));
    return s;
  }
};

void expect_identical(const Snapshot& a, const Snapshot& b) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_TRUE(torch::equal(a.tensors[i], b.tensors[i])) << "tensor " << i;
  }
  EXPECT_EQ(a.optim_g, b.optim_g);
  EXPECT_EQ(a.optim_d, b.optim_d);
}

std::vector<int64_t> metric_steps(const std::string& path) {
  std::vector<int64_t> steps;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line))
    steps.push_back(std::atoll(line.c_str() + line.find("\"step\": ") + 8));
  return steps;
}

// checkpoint.toml without its file checksums: those cover the files' bytes, which differ between
// two runs with the same state (config.toml names each run's own --out).
std::string state_lines(const std::string& path) {
  std::istringstream in(read_file(path));
  std::string line, kept;
  while (std::getline(in, line)) {
    if (line.rfind("bytes_", 0) != 0 && line.rfind("sha256_", 0) != 0 &&
        line.rfind("info_sha256", 0) != 0)
      kept += line + "\n";
  }
  return kept;
}

// 12 steps straight vs 6 + resume + 6 (crossing the epoch boundary at 8): every parameter,
// BN buffer and Adam state is bit-identical, and metrics.jsonl holds each logged step once.
TEST_F(TrainerTest, ResumeIsBitIdentical) {
  ScratchDir straight_dir("dcgan-straight"), resumed_dir("dcgan-resumed");
  Snapshot straight, resumed;
  ASSERT_EQ(train(config(straight_dir.path(), 12),
                  [&](train::Trainer& t) { straight = Snapshot::of(t); }),
            0);
  train::TrainConfig first = config(resumed_dir.path(), 6);
  first.ckpt_every = 5;  // the resume point (6) is the end-of-run checkpoint, not a periodic one
  ASSERT_EQ(train(first), 0);
  EXPECT_EQ(read_file(resumed_dir / "checkpoints/latest"), "step-000006\n");
  train::TrainConfig second = config(resumed_dir.path(), 12);
  second.resume = "latest";
  ASSERT_EQ(train(second,
                  [&](train::Trainer& t) {
                    EXPECT_EQ(t.cursor().step, 12);
                    EXPECT_EQ(t.cursor().epoch, 1);
                    EXPECT_EQ(t.cursor().batch, 4);
                    resumed = Snapshot::of(t);
                  }),
            0);
  expect_identical(straight, resumed);
  EXPECT_EQ(metric_steps(resumed_dir / "metrics.jsonl"),
            (std::vector<int64_t>{2, 4, 6, 8, 10, 12}));
  EXPECT_EQ(state_lines(straight_dir / "checkpoints/step-000012/checkpoint.toml"),
            state_lines(resumed_dir / "checkpoints/step-000012/checkpoint.toml"));
}

// --ema-halflife-kimg: the EMA generator is a checkpointed module; 6 + 6 resumed steps end
// bit-identical to 12 (the EMA included), and it differs from G (it averages).
TEST_F(TrainerTest, EmaResumesBitIdentical) {
  ScratchDir straight_dir("dcgan-ema-straight"), resumed_dir("dcgan-ema-resumed");
  std::vector<torch::Tensor> straight, resumed;
  auto ema_of = [](train::Trainer& t) {
    std::vector<torch::Tensor> out;
    const auto ema = train::TrainerTestPeer::module(t, "generator_ema");
    for (const auto& p : ema->parameters()) out.push_back(p.detach().clone());
    for (const auto& b : ema->buffers()) out.push_back(b.clone());
    const auto g = train::TrainerTestPeer::module(t, "generator");
    EXPECT_FALSE(torch::equal(ema->parameters()[0], g->parameters()[0]));
    return out;
  };
  train::TrainConfig a = config(straight_dir.path(), 12);
  a.ema_halflife_kimg = 0.05;  // beta = 0.5^(8 / 50): a visible average over a few steps
  ASSERT_EQ(train(a, [&](train::Trainer& t) { straight = ema_of(t); }), 0);
  train::TrainConfig first = config(resumed_dir.path(), 6);
  first.ema_halflife_kimg = 0.05;
  ASSERT_EQ(train(first), 0);
  train::TrainConfig second = config(resumed_dir.path(), 12);
  second.ema_halflife_kimg = 0.05;
  second.resume = "latest";
  ASSERT_EQ(train(second, [&](train::Trainer& t) { resumed = ema_of(t); }), 0);
  ASSERT_EQ(straight.size(), resumed.size());
  for (size_t i = 0; i < straight.size(); ++i)
    EXPECT_TRUE(torch::equal(straight[i], resumed[i])) << "EMA tensor " << i;
  EXPECT_NE(
      read_file(resumed_dir / "checkpoints/step-000012/checkpoint.toml").find("'generator_ema'"),
      std::string::npos);
  // Resuming it without the flag leaves the EMA entry unused; a run without EMA resumed with it
  // is refused, naming the missing module.
  ScratchDir plain_dir("dcgan-no-ema");
  ASSERT_EQ(train(config(plain_dir.path(), 2)), 0);
  train::TrainConfig with = config(plain_dir.path(), 4);
  with.ema_halflife_kimg = 0.05;
  with.resume = "latest";
  try {
    train(with);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("has no module 'generator_ema' HINT: it was trained "
                                         "without --ema-halflife-kimg"),
              std::string::npos)
        << e.what();
  }
}

// --data-on-device gathers the batches from the data set held on the device: 12 steps (across the
// epoch boundary at 8) end bit-identical to the reader thread's, and a resume at step 6 with the
// data on the device continues from the same position.
TEST_F(TrainerTest, DataOnDeviceTrainsLikeTheLoader) {
  ScratchDir loader_dir("dcgan-loader"), device_dir("dcgan-on-device");
  Snapshot from_loader, from_device;
  ASSERT_EQ(train(config(loader_dir.path(), 12),
                  [&](train::Trainer& t) { from_loader = Snapshot::of(t); }),
            0);
  train::TrainConfig first = config(device_dir.path(), 6);
  first.data_on_device = true;
  ASSERT_EQ(train(first), 0);
  train::TrainConfig second = config(device_dir.path(), 12);
  second.data_on_device = true;
  second.resume = "latest";
  ASSERT_EQ(train(second, [&](train::Trainer& t) { from_device = Snapshot::of(t); }), 0);
  expect_identical(from_loader, from_device);
}

TEST_F(TrainerTest, MetricsSamplesAndConfigAreWritten) {
  ScratchDir run("dcgan-run");
  ASSERT_EQ(train(config(run.path(), 6)), 0);
  std::istringstream in(read_file(run / "metrics.jsonl"));
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    for (const char* key :
         {"\"epoch\": 0", "\"loss_d\": ", "\"loss_g\": ", "\"d_x\": ", "\"d_g_z1\": ",
          "\"d_g_z2\": ", "\"images_per_s\": ", "\"lr_d\": 0.0002", "\"lr_g\": 0.0002"}) {
      EXPECT_NE(line.find(key), std::string::npos) << key << " missing in " << line;
    }
    EXPECT_EQ(line.find("null"), std::string::npos) << line;
  }
  EXPECT_EQ(lines, 3);
  EXPECT_EQ(metric_steps(run / "metrics.jsonl"), (std::vector<int64_t>{2, 4, 6}));
  for (const char* png :
       {"samples/real.png", "samples/step-000004.png", "samples/step-000006.png"}) {
    int w = 0, h = 0, c = 0;
    const auto pixels = read_png(run / png, &w, &h, &c);
    EXPECT_EQ(w, 8 * (32 + 2) + 2) << png;
    EXPECT_EQ(h, 8 * (32 + 2) + 2) << png;
    EXPECT_EQ(pixels.size(), static_cast<size_t>(w * h * c));
  }
  train::TrainConfig back;
  train::RunShape shape;
  train::config_from_toml(read_file(run / "config.toml"), "config.toml", &back, &shape);
  EXPECT_EQ(back.steps, 6);
  EXPECT_EQ(shape.image_size, 32);
  EXPECT_EQ(shape.channels, 3);
  EXPECT_EQ(read_file(run / "checkpoints/latest"), "step-000006\n");
}

// A stop raised after step 3 ends the run there with exit 75 and a complete checkpoint.
TEST_F(TrainerTest, StopSignalSavesAndReturns75) {
  ScratchDir run("dcgan-stop");
  std::atomic<int> stop{0};
  int64_t stopped_at = -1;
  const int code = train(
      config(run.path(), 12), [&](train::Trainer& t) { stopped_at = t.cursor().step; }, &stop,
      [&](int64_t step) {
        if (step == 3) stop = 10;
      });
  EXPECT_EQ(code, 75);
  EXPECT_EQ(stopped_at, 3);
  EXPECT_EQ(read_file(run / "checkpoints/latest"), "step-000003\n");
  EXPECT_NE(read_file(run / "checkpoints/step-000003/checkpoint.toml").find("step = 3\n"),
            std::string::npos);
}

TEST_F(TrainerTest, ResumeWithOtherShapesIsRefused) {
  ScratchDir run("dcgan-shape");
  ASSERT_EQ(train(config(run.path(), 2)), 0);
  train::TrainConfig wider = config(run.path(), 4);
  wider.ndf = 16;
  wider.resume = "latest";
  try {
    train(wider);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("ndf is 8 in the checkpoint but 16 now"),
              std::string::npos)
        << e.what();
  }
}

// dcgan-train --benchmark: a warm-up, the timed steps and as many again with the phases timed;
// nothing is written into the run directory (the logs aside, which the main sets up).
TEST_F(TrainerTest, BenchmarkTrainsButWritesNoRunFiles) {
  ScratchDir run("dcgan-benchmark");
  train::TrainConfig c = config(run.path(), 1);
  c.benchmark = 3;
  int64_t steps = -1;
  ASSERT_EQ(train(c, [&](train::Trainer& t) { steps = t.cursor().step; }), 0);
  EXPECT_EQ(steps, 5 + 2 * 3);  // warm-up, timed, phases
  for (const char* path : {"metrics.jsonl", "config.toml", "checkpoints", "samples"})
    EXPECT_FALSE(std::filesystem::exists(run / path)) << path;
}

// --cuda-graph is refused where it cannot run, before any training.
TEST_F(TrainerTest, CudaGraphIsRefusedOnTheCpu) {
  ScratchDir run("dcgan-graph-cpu");
  train::TrainConfig c = config(run.path(), 2);
  c.cuda_graph = true;
  c.data_on_device = true;
  try {
    train(c);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--cuda-graph needs a CUDA device; this rank trains on cpu");
  }
}

// The CUDA tests (launch/gpu_check.sh runs them; skipped without a GPU) run with
// --deterministic: deterministic cuDNN and cuBLAS kernels, so two runs of the same steps compute
// the same sums in the same order and should agree to the bit. The tolerance, a relative L2
// distance ||a - b|| / ||b|| of 1e-4 per tensor, is three orders of magnitude above float32
// reassociation (a kernel that a capture or a new process picks differently) and two below one
// lost or repeated Adam step (each moves a weight by about lr = 2e-4 against weights of 0.02, a
// relative 1e-2). An elementwise tolerance would not do: Adam's first updates are lr * sign(g),
// so a gradient near zero that flips sign moves one weight by 2 lr. BN's num_batches_tracked
// (which counts forward passes, replayed ones included) must be equal. Each test prints its
// largest difference.
void expect_close(const Snapshot& a, const Snapshot& b, const std::string& what) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  double worst_rel = 0, worst_abs = 0;
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const torch::Tensor x = a.tensors[i].cpu().to(torch::kFloat64);
    const torch::Tensor y = b.tensors[i].cpu().to(torch::kFloat64);
    if (!a.tensors[i].is_floating_point()) {
      EXPECT_TRUE(torch::equal(x, y)) << what << ": tensor " << i;
      continue;
    }
    const double rel = ((x - y).norm() / y.norm().clamp_min(1e-30)).item<double>();
    worst_rel = std::max(worst_rel, rel);
    worst_abs = std::max(worst_abs, (x - y).abs().max().item<double>());
    EXPECT_LE(rel, 1e-4) << what << ": tensor " << i;
  }
  std::printf("%s: largest difference %.3g relative L2, %.3g absolute, over %zu tensors\n",
              what.c_str(), worst_rel, worst_abs, a.tensors.size());
}

train::TrainConfig deterministic_cuda(train::TrainConfig c) {
  c.device = "cuda";
  c.deterministic = true;
  train::apply_debug_modes(/*deterministic=*/true, /*detect_anomaly=*/false);
  return c;
}

// The noise is drawn on the GPU: a resume from the checkpoint of step 4 ends where the straight
// run does. A checkpoint whose noise came from the host (here a CPU run's, as every CUDA run's
// was before the noise moved to the GPU) still resumes on CUDA, with a new noise stream.
TEST_F(TrainerTest, CudaDeviceNoiseResumesExactly) {
  if (!train::cuda_available()) GTEST_SKIP() << "no CUDA device";
  ScratchDir straight_dir("dcgan-cuda-straight"), resumed_dir("dcgan-cuda-resumed"),
      host_dir("dcgan-cuda-host");
  train::TrainConfig c = deterministic_cuda(config(straight_dir.path(), 8));
  Snapshot straight, resumed;
  ASSERT_EQ(train(c, [&](train::Trainer& t) { straight = Snapshot::of(t); }), 0);
  train::TrainConfig first = c;
  first.out = resumed_dir.path();
  first.steps = 4;
  ASSERT_EQ(train(first), 0);
  train::TrainConfig second = c;
  second.out = resumed_dir.path();
  second.resume = "latest";
  ASSERT_EQ(train(second, [&](train::Trainer& t) { resumed = Snapshot::of(t); }), 0);
  expect_close(straight, resumed, "CUDA: 8 steps against 4 + resume + 4");

  train::TrainConfig host = config(host_dir.path(), 4);  // on the CPU
  ASSERT_EQ(train(host), 0);
  host = deterministic_cuda(host);
  host.steps = 8;
  host.resume = "latest";
  int64_t step = 0;
  ASSERT_EQ(train(host, [&](train::Trainer& t) { step = t.cursor().step; }), 0);
  EXPECT_EQ(step, 8);
}

// The captured step replays what the eager step computes: after warm-up (3 steps), the capture
// and 7 replays, G's and D's parameters and buffers equal the eager run's.
TEST_F(TrainerTest, CudaGraphMatchesTheEagerRun) {
  if (!train::cuda_available()) GTEST_SKIP() << "no CUDA device";
  ScratchDir eager_dir("dcgan-cuda-eager"), graph_dir("dcgan-cuda-graph");
  train::TrainConfig c = deterministic_cuda(config(eager_dir.path(), 10));
  c.data_on_device = true;
  Snapshot eager, graph;
  ASSERT_EQ(train(c, [&](train::Trainer& t) { eager = Snapshot::of(t); }), 0);
  c.out = graph_dir.path();
  c.cuda_graph = true;
  ASSERT_EQ(train(c, [&](train::Trainer& t) { graph = Snapshot::of(t); }), 0);
  expect_close(eager, graph, "CUDA graph: 10 steps eager against 3 eager + capture + 6 replays");
}

// A step that throws while it is being captured: the caller gets the step's own error, the
// stream is no longer capturing, and CUDA work on it runs again.
TEST(StepGraphCuda, ACaptureThatThrowsEndsAndReportsTheStepsError) {
  if (!train::cuda_available()) GTEST_SKIP() << "no CUDA device";
  const torch::Device device(torch::kCUDA, 0);
  const std::unique_ptr<train::StepGraph> graph =
      train::make_step_graph(device, train::make_generator(device, 1), /*warmup_steps=*/1);
  const torch::Tensor x = torch::ones({16}, device);
  graph->run([&] { return train::StepResult{x * 2, {}}; });  // the eager warm-up
  try {
    graph->run([&]() -> train::StepResult {
      torch::Tensor y = x * 3;  // captured work before the failure
      throw Error("the planted failure");
    });
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "the planted failure");
  }
  EXPECT_FALSE(graph->captured());
  EXPECT_EQ((x * 5).sum().item<double>(), 80.0);  // the stream runs work again
  try {
    graph->run([&] { return train::StepResult{x, {}}; });
    FAIL() << "a failed capture was replayed";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "CUDA graph: the step's capture failed earlier");
  }
}

}  // namespace
}  // namespace dcgan::test
