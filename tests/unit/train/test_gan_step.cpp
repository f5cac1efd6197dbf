// GanStep: agreement with an independent Python/PyTorch computation of the tutorial's step and
// with the tutorial's Sigmoid + BCE formulation, D untouched by the G phase, learning on a
// separable set, bf16 autocast, and the NaN guard.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "support/test_support.h"
#include "support/torch_support.h"
#include "unit/train/python_reference.h"
#include "unit/train/train_fixtures.h"

namespace dcgan::test {
namespace {

std::string shapes_json(const std::vector<torch::Tensor>& tensors) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < tensors.size(); ++i) {
    out << (i ? ", " : "") << "[";
    for (int64_t k = 0; k < tensors[i].dim(); ++k) out << (k ? ", " : "") << tensors[i].size(k);
    out << "]";
  }
  return out.str() + "]";
}

std::vector<torch::Tensor> running_stat_values(torch::nn::Module& net) {
  std::vector<torch::Tensor> out;
  for (const auto& named : running_stats(net)) out.push_back(named.second);
  return out;
}

// The reference script rebuilds the tutorial nets with torch.nn from the exported weights and runs
// the tutorial's step verbatim; losses, D outputs, updated parameters and BN statistics must agree.
TEST(GanStep, MatchesIndependentPythonStep) {
  const char* python = std::getenv("DCGAN_PYTHON");
  if (python == nullptr || *python == '\0')
    GTEST_SKIP() << "DCGAN_PYTHON is not set (ctest sets it)";
  ScratchDir dir("dcgan-step");
  TinyGan gan(/*seed=*/7);
  torch::manual_seed(11);
  const torch::Tensor real = torch::rand({8, 3, 32, 32}) * 2 - 1;
  const torch::Tensor z = torch::randn({8, 16, 1, 1});
  const auto g_params = gan.g->parameters();
  const auto d_params = gan.d->parameters();
  for (size_t i = 0; i < g_params.size(); ++i)
    write_raw(g_params[i], dir / ("g_" + std::to_string(i) + ".bin"));
  for (size_t i = 0; i < d_params.size(); ++i)
    write_raw(d_params[i], dir / ("d_" + std::to_string(i) + ".bin"));
  write_raw(real, dir / "real.bin");
  write_raw(z, dir / "z.bin");
  std::ofstream(dir / "manifest.json")
      << "{\"g_shapes\": " << shapes_json(g_params) << ", \"d_shapes\": " << shapes_json(d_params)
      << ", \"real_shape\": [8, 3, 32, 32], \"z_shape\": [8, 16, 1, 1], \"lr\": 0.0002, "
      << "\"beta1\": 0.5, \"beta2\": 0.999, \"real_label\": 1.0}";

  torch::set_num_threads(1);
  const train::StepResult result = gan.step->run(real, z, 1);
  std::string output;
  ASSERT_EQ(run_command(std::string(python) + " " +
                            source_path("tests/unit/train/reference_step.py") + " " + dir.path(),
                        &output),
            0)
      << output;

  const std::string json = read_file(dir / "results.json");
  const auto stats = result.stats.cpu();
  EXPECT_NEAR(stats[train::kLossD].item<double>(), json_number(json, "loss_d"), 1e-5);
  EXPECT_NEAR(stats[train::kLossG].item<double>(), json_number(json, "loss_g"), 1e-5);
  EXPECT_NEAR(stats[train::kDx].item<double>(), json_number(json, "d_x"), 1e-5);
  EXPECT_NEAR(stats[train::kDGz1].item<double>(), json_number(json, "d_g_z1"), 1e-5);
  EXPECT_NEAR(stats[train::kDGz2].item<double>(), json_number(json, "d_g_z2"), 1e-5);
  auto compare = [&](const std::vector<torch::Tensor>& mine, const std::string& prefix) {
    for (size_t i = 0; i < mine.size(); ++i) {
      const torch::Tensor ref =
          read_raw(dir / (prefix + std::to_string(i) + ".bin"), mine[i].sizes());
      EXPECT_LE((mine[i] - ref).abs().max().item<double>(), 1e-5) << prefix << i;
    }
  };
  compare(g_params, "out_g_");
  compare(d_params, "out_d_");
  compare(running_stat_values(*gan.g), "out_g_stat_");
  compare(running_stat_values(*gan.d), "out_d_stat_");
  // The step must have moved every parameter (a no-op step would fail the comparison above too).
  EXPECT_FALSE(torch::equal(g_params[0], read_raw(dir / "g_0.bin", g_params[0].sizes())));
}

// max |a - b| / max |b|: the gap relative to the tensor's scale.
double relative_gap(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item<double>();
}

// The product trains D on logits with BCE-with-logits; the tutorial puts a Sigmoid in D and uses
// BCELoss. Three fp32 steps of each, from the same nets and inputs: every gradient and logged stat
// agrees within 1e-6 relative, and every parameter after the first step. Later steps allow 1e-5 for
// the parameters: Adam divides each gradient element by its own running magnitude, so a
// float-noise difference in an element near zero (measured: a G BN bias, 2e-6 at step 2 with one
// thread) moves that element by a fair part of lr. D's probabilities are the sigmoid of its
// logits.
TEST(GanStep, LogitsStepMatchesSigmoidBceStep) {
  TinyGan gan(/*seed=*/21);
  TinyGan tutorial(/*seed=*/21);
  namespace F = torch::nn::functional;
  torch::manual_seed(22);
  const torch::Tensor real = torch::rand({8, 3, 32, 32}) * 2 - 1;
  EXPECT_LE(relative_gap(torch::sigmoid(gan.d->logits(real)), gan.d->forward(real)), 1e-7);
  for (int64_t step = 1; step <= 3; ++step) {
    const torch::Tensor z = torch::randn({8, 16, 1, 1});
    const auto stats = gan.step->run(real, z, step).stats;
    // The tutorial's step, verbatim (D frozen for G's backward).
    tutorial.reducer_d->zero_grad();
    const torch::Tensor out_real = tutorial.d->forward(real);
    const torch::Tensor err_real = F::binary_cross_entropy(out_real, torch::ones({8}));
    err_real.backward();
    const torch::Tensor fake = tutorial.g->forward(z);
    const torch::Tensor out_fake = tutorial.d->forward(fake.detach());
    const torch::Tensor err_fake = F::binary_cross_entropy(out_fake, torch::zeros({8}));
    err_fake.backward();
    tutorial.opt_d->step();
    tutorial.reducer_g->zero_grad();
    for (auto& p : tutorial.d->parameters()) p.set_requires_grad(false);
    const torch::Tensor out_g = tutorial.d->forward(fake);
    const torch::Tensor err_g = F::binary_cross_entropy(out_g, torch::ones({8}));
    err_g.backward();
    for (auto& p : tutorial.d->parameters()) p.set_requires_grad(true);
    tutorial.opt_g->step();
    const torch::Tensor expected =
        torch::stack({err_real + err_fake, err_g, out_real.mean(), out_fake.mean(), out_g.mean()})
            .detach();
    EXPECT_LE(relative_gap(stats, expected), 1e-6) << "stats at step " << step;
    const auto check = [&](torch::nn::Module& mine, torch::nn::Module& theirs, const char* net) {
      const auto a = mine.named_parameters();
      const auto b = theirs.named_parameters();
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_LE(relative_gap(a[i].value().grad(), b[i].value().grad()), 1e-6)
            << net << " gradient " << a[i].key() << " at step " << step;
        EXPECT_LE(relative_gap(a[i].value(), b[i].value()), step == 1 ? 1e-6 : 1e-5)
            << net << " parameter " << a[i].key() << " at step " << step;
      }
    };
    check(*gan.d, *tutorial.d, "D");
    check(*gan.g, *tutorial.g, "G");
  }
}

// D's parameters and gradients after the full step equal those after D's phases alone (a replica
// that runs phases 1-6 only): the G phase neither updates D nor accumulates into D's gradients.
TEST(GanStep, GeneratorPhaseLeavesDiscriminatorUntouched) {
  TinyGan gan(/*seed=*/3);
  TinyGan replica(/*seed=*/3);
  torch::manual_seed(5);
  const torch::Tensor real = torch::rand({8, 3, 32, 32}) * 2 - 1;
  const torch::Tensor z = torch::randn({8, 16, 1, 1});
  const auto g_before = torch::cat({gan.g->parameters()[0].flatten().clone()});
  gan.step->run(real, z, 1);

  namespace F = torch::nn::functional;
  replica.reducer_d->zero_grad();
  F::binary_cross_entropy_with_logits(replica.d->logits(real), torch::ones({8})).backward();
  const torch::Tensor fake = replica.g->forward(z);
  F::binary_cross_entropy_with_logits(replica.d->logits(fake.detach()), torch::zeros({8}))
      .backward();
  replica.opt_d->step();

  const auto mine = gan.d->parameters();
  const auto theirs = replica.d->parameters();
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_TRUE(torch::equal(mine[i], theirs[i])) << "D parameter " << i;
    EXPECT_TRUE(torch::equal(mine[i].grad(), theirs[i].grad())) << "D gradient " << i;
    EXPECT_TRUE(mine[i].requires_grad()) << "D parameter " << i << " left frozen";
  }
  EXPECT_FALSE(torch::equal(gan.g->parameters()[0].flatten(), g_before)) << "G was not updated";
}

// Real images are a constant bright pattern, far from G's initial output: D must separate them
// within 50 steps, so its loss falls well below the ~1.39 (2 ln 2) of an untrained D.
TEST(GanStep, DiscriminatorLossFallsOnSeparableData) {
  TinyGan gan(/*seed=*/1);
  const torch::Tensor real = torch::full({16, 3, 32, 32}, 0.8);
  torch::manual_seed(2);
  double first = 0;
  double last = 0;
  for (int step = 1; step <= 50; ++step) {
    const torch::Tensor z = torch::randn({16, 16, 1, 1});
    const double loss_d = gan.step->run(real, z, step).stats[train::kLossD].item<double>();
    if (step == 1) first = loss_d;
    last = loss_d;
  }
  EXPECT_GT(first, 1.0);
  EXPECT_LT(last, 0.5 * first) << "first " << first << " last " << last;
}

// A NaN in the real batch makes D's loss non-finite. The step itself makes no host read: D's
// update is skipped on the device in either mode, and G's (whose loss is finite) is applied. The
// default then fails at the guard's host read, naming the loss and the step; --on-nan skip logs.
TEST(GanStep, NonFiniteLossIsNeverAppliedThenFailsOrSkips) {
  torch::Tensor real = torch::zeros({8, 3, 32, 32});
  real[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  const torch::Tensor z = torch::randn({8, 16, 1, 1});
  for (const bool skip : {false, true}) {
    train::StepOptions options;
    options.skip_non_finite = skip;
    TinyGan gan(/*seed=*/4, 2e-4, 8, options);
    const torch::Tensor d0 = gan.d->parameters()[0].clone();
    const torch::Tensor g0 = gan.g->parameters()[0].clone();
    const train::StepResult result = gan.step->run(real, z, 17);
    ASSERT_EQ(result.skipped.sizes(), torch::IntArrayRef({2}));
    EXPECT_EQ(result.skipped[0].item<float>(), 1.0f) << "D's update must be skipped";
    EXPECT_EQ(result.skipped[1].item<float>(), 0.0f) << "G's loss is finite";
    EXPECT_TRUE(torch::equal(gan.d->parameters()[0], d0));
    EXPECT_FALSE(torch::equal(gan.g->parameters()[0], g0));
    if (skip) {
      EXPECT_NO_THROW(gan.step->report(17));
      continue;
    }
    try {
      gan.step->report(17);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("non-finite loss_d = nan at step 17;"),
                std::string::npos)
          << e.what();
    }
  }
}

// Read a step later, the error still names the first non-finite step; finite steps in between
// update D again, and the second read starts from a clean count.
TEST(GanStep, DeferredReadNamesTheFirstNonFiniteStep) {
  TinyGan gan(/*seed=*/4);
  torch::Tensor bad = torch::zeros({8, 3, 32, 32});
  bad[0][0][0][0] = std::numeric_limits<float>::infinity();
  const torch::Tensor good = torch::zeros({8, 3, 32, 32});
  const torch::Tensor z = torch::randn({8, 16, 1, 1});
  gan.step->run(good, z, 1);
  EXPECT_NO_THROW(gan.step->report(1));
  gan.step->run(bad, z, 2);
  gan.step->run(bad, z, 3);
  const torch::Tensor d3 = gan.d->parameters()[0].clone();
  gan.step->run(good, z, 4);
  EXPECT_FALSE(torch::equal(gan.d->parameters()[0], d3)) << "step 4 is finite";
  try {
    gan.step->report(4);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite loss or gradient in D at step 2 (seen at the "
                                         "check after step 4); the update was not applied"),
              std::string::npos)
        << e.what();
  }
}

// A captured CUDA graph replays the step with the step number it was captured with. The guard
// counts the steps on the device from the first one it saw, so the error still names the right
// step when every call passes the same number.
TEST(GanStep, TheGuardCountsStepsOnTheDeviceLikeAReplayedGraph) {
  TinyGan gan(/*seed=*/4);
  torch::Tensor bad = torch::zeros({8, 3, 32, 32});
  bad[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  const torch::Tensor good = torch::zeros({8, 3, 32, 32});
  const torch::Tensor z = torch::randn({8, 16, 1, 1});
  gan.step->run(good, z, 11);  // the first step the guard sees: 11
  gan.step->run(good, z, 11);  // 12, as a replay would pass it
  gan.step->run(bad, z, 11);   // 13
  gan.step->run(good, z, 11);  // 14
  try {
    gan.step->report(14);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("in D at step 13 (seen at the check after step 14)"),
              std::string::npos)
        << e.what();
  }
}

// With a timer, the step laps its phases in the tutorial's order: D's real pass, G's forward,
// D's fake pass, the exposed all-reduce, D's update, G's pass, then G's update and the stats.
TEST(GanStep, PhaseTimerSeesEveryPhase) {
  train::PhaseTimer timer(torch::kCPU);
  train::StepOptions options;
  options.timer = &timer;
  TinyGan gan(/*seed=*/4, 2e-4, 8, options);
  const torch::Tensor real = torch::rand({8, 3, 32, 32}) * 2 - 1;
  gan.step->run(real, torch::randn({8, 16, 1, 1}), 1);
  EXPECT_TRUE(timer.seconds().empty()) << "a disabled timer records nothing";
  timer.enable(true);
  gan.step->run(real, torch::randn({8, 16, 1, 1}), 2);
  std::vector<std::string> names;
  for (const auto& [name, seconds] : timer.seconds()) {
    names.push_back(name);
    EXPECT_GE(seconds, 0.0) << name;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"D", "G", "all-reduce", "optimizer", "other"}));
}

// --check-nan reads every phase on the host and fails inside the step, naming the loss.
TEST(GanStep, CheckNanFailsInsideTheStep) {
  train::StepOptions options;
  options.check_each_phase = true;
  TinyGan gan(/*seed=*/4, 2e-4, 8, options);
  torch::Tensor real = torch::zeros({8, 3, 32, 32});
  real[0][0][0][0] = std::numeric_limits<float>::quiet_NaN();
  try {
    gan.step->run(real, torch::randn({8, 16, 1, 1}), 9);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("non-finite loss_d_real = nan at step 9"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace dcgan::test
