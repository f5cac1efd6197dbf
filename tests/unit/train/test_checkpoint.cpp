// Checkpoints: exact round trip, refusal of a wrong shape naming it, atomicity under a failing
// write, pruning to --keep, and the dcgan-sample loaders.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cstdio>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/train/checkpoint.h"
#include "dcgan/train/fingerprint.h"
#include "support/test_support.h"
#include "unit/train/train_fixtures.h"

namespace dcgan::test {
namespace {

// A TinyGan with a few steps done (so Adam has state) and the rest of a TrainingState.
struct Saved {
  explicit Saved(uint64_t seed, int64_t ngf = 8) : gan(seed, 2e-4, ngf) {
    torch::manual_seed(seed + 100);
    for (int i = 1; i <= 2; ++i) {
      gan.step->run(torch::rand({4, 3, 32, 32}) * 2 - 1, torch::randn({4, 16, 1, 1}), i);
    }
    fixed_noise = torch::randn({64, 16, 1, 1});
    z_gen = at::detail::createCPUGenerator(seed);
    cursor = {2, 1, 3};
    config.data = "data";
    config.out = "run";
    config.nz = 16;
    config.ngf = ngf;
    config.ndf = 8;
    config.keep = 2;
  }
  train::TrainingState state() {
    train::TrainingState s;  // the DCGAN recipe's entries
    s.modules = {{"generator", gan.g.ptr()}, {"discriminator", gan.d.ptr()}};
    s.optimizers = {{"d", gan.opt_d.get()}, {"g", gan.opt_g.get()}};
    s.tensors = {{"fixed_noise", &fixed_noise}};
    s.z_generator = &z_gen;
    s.cursor = &cursor;
    return s;
  }
  TinyGan gan;
  torch::Tensor fixed_noise;
  at::Generator z_gen;
  train::TrainCursor cursor;
  train::TrainConfig config;
  train::RunShape shape{32, 3, 1, "cpu"};
};

std::string latest(const ScratchDir& run) { return read_file(run / "checkpoints/latest"); }

TEST(Checkpoint, RoundTripRestoresEveryTensorAndRng) {
  ScratchDir run("dcgan-ckpt");
  Saved a(1);
  const std::string dir = train::save_checkpoint(run.path(), a.state(), a.config, a.shape);
  EXPECT_EQ(dir, run / "checkpoints/step-000002");
  EXPECT_EQ(latest(run), "step-000002\n");
  EXPECT_EQ(train::resolve_checkpoint_dir(run.path()), dir);

  Saved b(2);  // different weights, Adam state, noise and RNG
  ASSERT_NE(train::module_fingerprint(*a.gan.g), train::module_fingerprint(*b.gan.g));
  const train::CheckpointInfo info = train::restore_checkpoint(dir, b.state(), b.config, b.shape);
  EXPECT_EQ(info.cursor.step, 2);
  EXPECT_EQ(b.cursor.epoch, 1);
  EXPECT_EQ(b.cursor.batch, 3);
  EXPECT_EQ(info.shape.world_size, 1);
  for (auto [x, y] : {std::pair{a.gan.g->parameters(), b.gan.g->parameters()},
                      std::pair{a.gan.d->parameters(), b.gan.d->parameters()},
                      std::pair{a.gan.g->buffers(), b.gan.g->buffers()},
                      std::pair{a.gan.d->buffers(), b.gan.d->buffers()}}) {
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_TRUE(torch::equal(x[i], y[i])) << i;
  }
  EXPECT_EQ(train::optimizer_fingerprint(*a.gan.opt_g), train::optimizer_fingerprint(*b.gan.opt_g));
  EXPECT_EQ(train::optimizer_fingerprint(*a.gan.opt_d), train::optimizer_fingerprint(*b.gan.opt_d));
  EXPECT_TRUE(torch::equal(a.fixed_noise, b.fixed_noise));
  EXPECT_TRUE(torch::equal(torch::randn({5}, a.z_gen), torch::randn({5}, b.z_gen)));
  // dcgan-sample's loader sees the same generator.
  models::Generator g = train::load_generator(dir, torch::kCPU);
  EXPECT_FALSE(g->is_training());
  EXPECT_EQ(train::module_fingerprint(*g), train::module_fingerprint(*a.gan.g));
}

// Format 2 names its entries; a state that needs an entry the checkpoint lacks is refused naming
// it, an entry the state does not know is left, and an unknown format version is refused.
TEST(Checkpoint, Format2NamesEntriesAndRefusesMissingOnes) {
  ScratchDir run("dcgan-ckpt");
  Saved a(1);
  const std::string dir = train::save_checkpoint(run.path(), a.state(), a.config, a.shape);
  const train::CheckpointInfo info = train::read_checkpoint_info(dir);
  EXPECT_EQ(info.format_version, 2);
  EXPECT_EQ(info.model, "dcgan");
  EXPECT_EQ(info.modules, (std::vector<std::string>{"generator", "discriminator"}));
  EXPECT_EQ(info.optimizers, (std::vector<std::string>{"d", "g"}));
  EXPECT_EQ(info.tensors, (std::vector<std::string>{"fixed_noise"}));

  Saved b(2);
  train::TrainingState more = b.state();  // the EMA copy of G of --ema-halflife-kimg
  models::NetOptions options = train::net_options(b.config, b.shape);
  more.modules.push_back({"generator_ema", models::Generator(options).ptr()});
  try {
    train::restore_checkpoint(dir, more, b.config, b.shape);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()),
              "checkpoint " + dir +
                  " has no module 'generator_ema' HINT: it was trained without "
                  "--ema-halflife-kimg; resume without it, or start a fresh run with --init-from "
                  "an export");
  }
  train::TrainingState fewer = b.state();  // an older build without fixed noise: left unread
  fewer.tensors.clear();
  train::restore_checkpoint(dir, fewer, b.config, b.shape);
  EXPECT_EQ(train::module_fingerprint(*b.gan.g), train::module_fingerprint(*a.gan.g));

  std::string text = read_file(dir + "/checkpoint.toml");
  text.replace(text.find("format_version = 2"), 18, "format_version = 9");
  write_file_atomic(dir + "/checkpoint.toml", text);
  try {
    train::read_checkpoint_info(dir);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), dir +
                                         "/checkpoint.toml: checkpoint format 9 is not supported "
                                         "(this build reads formats 1 to 2)");
  }
}

TEST(Checkpoint, WrongShapeIsRefusedNamingTheMismatch) {
  ScratchDir run("dcgan-ckpt");
  Saved a(1, /*ngf=*/8);
  const std::string dir = train::save_checkpoint(run.path(), a.state(), a.config, a.shape);
  Saved wider(1, /*ngf=*/16);
  try {
    train::restore_checkpoint(dir, wider.state(), wider.config, wider.shape);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("ngf is 8 in the checkpoint but 16 now"),
              std::string::npos)
        << e.what();
    EXPECT_EQ(e.code(), ExitCode::kUsage);
  }
  // Below the config check, tensor shapes are checked one by one.
  try {
    train::load_module_checked(dir + "/generator.pt", *wider.gan.g, "generator");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_NE(
        std::string(e.what()).find("generator: tensor 'main.0.weight' has shape [16, 32, 4, 4] "
                                   "in the checkpoint but [16, 64, 4, 4] in the model"),
        std::string::npos)
        << e.what();
  }
}

// A save that fails part-way (here: the file-size limit, which fails write(2) like a full disk)
// throws naming the file and leaves `latest` and the previous checkpoint as they were.
TEST(Checkpoint, FailedSaveLeavesThePreviousCheckpoint) {
  ScratchDir run("dcgan-ckpt");
  Saved a(1);
  const std::string first = train::save_checkpoint(run.path(), a.state(), a.config, a.shape);
  const std::string fingerprint = read_file(first + "/checkpoint.toml");
  a.cursor.step = 3;
  rlimit old_limit{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    train::save_checkpoint(run.path(), a.state(), a.config, a.shape);
  } catch (const Error& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(
      message.find("cannot write checkpoint file " + run.path() + "/checkpoints/.tmp-step-000003"),
      std::string::npos)
      << message;
  EXPECT_NE(message.find("the previous checkpoint is intact"), std::string::npos) << message;
  EXPECT_EQ(latest(run), "step-000002\n");
  EXPECT_EQ(read_file(first + "/checkpoint.toml"), fingerprint);
  std::string listing;
  run_command("ls -A " + run / "checkpoints", &listing);
  EXPECT_EQ(listing, "latest\nstep-000002\n");
}

TEST(Checkpoint, KeepsTheNewestAndResolvesPaths) {
  ScratchDir run("dcgan-ckpt");
  Saved a(1);
  for (int64_t step : {10, 20, 30, 40}) {
    a.cursor.step = step;
    train::save_checkpoint(run.path(), a.state(), a.config, a.shape);
  }
  std::string listing;
  run_command("ls -A " + run / "checkpoints", &listing);
  EXPECT_EQ(listing, "latest\nstep-000030\nstep-000040\n");
  EXPECT_EQ(train::resolve_checkpoint_dir(run / "checkpoints"), run / "checkpoints/step-000040");
  EXPECT_EQ(train::resolve_checkpoint_dir(run / "checkpoints/step-000030"),
            run / "checkpoints/step-000030");
  EXPECT_THROW(train::resolve_checkpoint_dir(run / "samples"), UsageError);
}

void flip_byte(const std::string& path, long offset) {
  std::FILE* f = std::fopen(path.c_str(), "r+b");
  ASSERT_NE(f, nullptr) << path;
  std::fseek(f, offset, SEEK_SET);
  const int c = std::fgetc(f);
  std::fseek(f, offset, SEEK_SET);
  std::fputc(c ^ 0x01, f);
  std::fclose(f);
}

TEST(CheckpointIntegrity, EveryFileIsCheckedAndAFlippedBitIsNamed) {
  ScratchDir run("dcgan-ckpt");
  Saved a(3);
  const std::string dir = train::save_checkpoint(run.path(), a.state(), a.config, a.shape);
  EXPECT_EQ(train::verify_checkpoint(dir).status, train::CheckpointCheck::kIntact);
  for (const char* file : {"generator.pt", "discriminator.pt", "optim_g.pt", "optim_d.pt",
                           "state.pt", "config.toml", "checkpoint.toml"}) {
    ScratchDir copy("dcgan-ckpt-copy");
    ASSERT_EQ(run_command("cp -r " + dir + "/. " + copy.path()), 0);
    flip_byte(copy / file, 40);
    const train::CheckpointCheck check = train::verify_checkpoint(copy.path());
    EXPECT_EQ(check.status, train::CheckpointCheck::kDamaged) << file;
    EXPECT_NE(check.problem.find(copy / file), std::string::npos) << check.problem;
  }
}

TEST(CheckpointIntegrity, FallbackRenamesDamagedOnesAndPruningIgnoresThem) {
  ScratchDir run("dcgan-ckpt");
  Saved a(4);
  a.config.keep = 10;
  for (int64_t step : {10, 20, 30}) {
    a.cursor.step = step;
    train::save_checkpoint(run.path(), a.state(), a.config, a.shape);
  }
  ASSERT_EQ(run_command("truncate -s 10 " + run / "checkpoints/step-000030/state.pt"), 0);
  ASSERT_EQ(run_command("rm " + run / "checkpoints/step-000020/optim_d.pt"), 0);
  EXPECT_EQ(train::choose_resume_checkpoint(run.path()), run / "checkpoints/step-000010");
  EXPECT_EQ(latest(run), "step-000010\n");
  std::string listing;
  run_command("ls -A " + run / "checkpoints", &listing);
  EXPECT_EQ(listing, "latest\nstep-000010\nstep-000020.damaged\nstep-000030.damaged\n");
  EXPECT_EQ(train::checkpoint_dir_at_step(run.path(), 10), run / "checkpoints/step-000010");
  // Pruning to keep 1 leaves the .damaged directories for a person to look at.
  a.config.keep = 1;
  a.cursor.step = 40;
  train::save_checkpoint(run.path(), a.state(), a.config, a.shape);
  run_command("ls -A " + run / "checkpoints", &listing);
  EXPECT_EQ(listing, "latest\nstep-000020.damaged\nstep-000030.damaged\nstep-000040\n");
  // No intact one left: a data error.
  flip_byte(run / "checkpoints/step-000040/generator.pt", 100);
  EXPECT_THROW(train::choose_resume_checkpoint(run.path()), DataError);
  EXPECT_THROW(train::choose_resume_checkpoint(run / "samples"), UsageError);
}

// checkpoints/latest as a symbolic link (latest -> step-000010, as a user or a script makes it) is
// followed; a pointer that names no entry of checkpoints/ is ignored, never treated as a damaged
// checkpoint (it once had checkpoints/ itself renamed to checkpoints/.damaged).
TEST(CheckpointIntegrity, ALatestLinkIsFollowedAndABadPointerIgnored) {
  ScratchDir run("dcgan-ckpt");
  Saved a(5);
  a.config.keep = 10;
  for (int64_t step : {10, 20}) {
    a.cursor.step = step;
    train::save_checkpoint(run.path(), a.state(), a.config, a.shape);
  }
  const std::string pointer = run / "checkpoints/latest";
  ASSERT_EQ(run_command("rm " + pointer + " && ln -s step-000010 " + pointer), 0);
  EXPECT_EQ(train::resolve_checkpoint_dir(run.path()), run / "checkpoints/step-000010");
  EXPECT_EQ(train::choose_resume_checkpoint(run.path()), run / "checkpoints/step-000010");
  for (const char* bad : {"", "..", "../step-000010", "/tmp"}) {
    ASSERT_EQ(run_command("rm " + pointer), 0);
    write_file_atomic(pointer, std::string(bad) + "\n");
    EXPECT_EQ(train::choose_resume_checkpoint(run.path()), run / "checkpoints/step-000020") << bad;
    EXPECT_EQ(latest(run), "step-000020\n") << bad;
  }
  std::string listing;
  run_command("ls -A " + run / "checkpoints", &listing);
  EXPECT_EQ(listing, "latest\nstep-000010\nstep-000020\n");
}

// The latent-noise RNG state across the noise's move to the GPU: a state of the generator's own
// kind is restored as saved; one of the other kind (here a CUDA Philox state, 16 bytes, into the
// CPU's mt19937) seeds the generator from the FNV-1a hash of its bytes, the same every time.
TEST(NoiseState, AStateOfTheOtherKindSeedsTheSameStreamOnEveryResume) {
  at::Generator saved = at::detail::createCPUGenerator(7);
  at::Generator restored = at::detail::createCPUGenerator(99);
  EXPECT_TRUE(train::restore_noise_state(restored, saved.get_state()));
  EXPECT_TRUE(torch::equal(torch::randn({8}, saved), torch::randn({8}, restored)));

  const torch::Tensor philox = torch::arange(16, torch::kUInt8);
  uint64_t fnv = 1469598103934665603ULL;
  for (uint64_t byte = 0; byte < 16; ++byte) fnv = (fnv ^ byte) * 1099511628211ULL;
  at::Generator first = at::detail::createCPUGenerator(1);
  at::Generator second = at::detail::createCPUGenerator(2);
  EXPECT_FALSE(train::restore_noise_state(first, philox));
  EXPECT_FALSE(train::restore_noise_state(second, philox));
  EXPECT_EQ(first.current_seed(), fnv);
  EXPECT_EQ(second.current_seed(), fnv);
  EXPECT_TRUE(torch::equal(torch::randn({8}, first), torch::randn({8}, second)));
  at::Generator other = at::detail::createCPUGenerator(1);
  EXPECT_FALSE(train::restore_noise_state(other, philox + 1));
  EXPECT_NE(other.current_seed(), fnv);
}

}  // namespace
}  // namespace dcgan::test
