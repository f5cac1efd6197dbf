// dcgan-eval: FD (FID with an Inception extractor) and KID between the images a checkpoint's
// decoder generates (or a second packed data set) and a packed data set, with features from a
// TorchScript extractor. Under mpirun the ranks share the feature extraction.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>

#include <torch/torch.h>

#include "dcgan/common/cli.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/common/sha256.h"
#include "dcgan/common/str.h"
#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/mpi_session.h"
#include "dcgan/distributed/rank_guard.h"
#include "dcgan/eval/evaluation.h"
#include "dcgan/eval/features.h"
#include "dcgan/train/device.h"
#include "dcgan/train/eval_images.h"

namespace {

struct EvalOptions {
  std::string features;  // TorchScript extractor
  std::string real;      // packed data set
  std::string ckpt;      // generated images from this checkpoint's decoder, or
  std::string fake;      // a second packed data set
  int64_t samples = 10000;
  int64_t real_samples = 0;  // 0 = every image of --real
  int64_t seed = 0;
  int64_t batch_size = 100;
  std::string metrics = "fd,kid";
  int64_t kid_subsets = 100;
  int64_t kid_subset_size = 1000;
  std::string cache;  // "" = the default directory
  bool no_cache = false;
  std::string device = "auto";
  int64_t comm_timeout = 600;
  bool json = false;
  bool no_ema = false;  // the raw decoder even when the checkpoint has its EMA
};

// The fake images: --ckpt's decoder (its EMA unless --no-ema) of seeded codes, or --fake's; of
// the real images' shape.
dcgan::train::ImageSet fake_images(const EvalOptions& o, const dcgan::train::ImageSet& real,
                                   const torch::Device& device) {
  using namespace dcgan;
  train::ImageSet fake =
      o.ckpt.empty() ? train::data_set_images(o.fake, device, o.samples)
                     : train::checkpoint_images(o.ckpt, device, !o.no_ema, o.samples, o.seed);
  if (real.image_size != fake.image_size || real.channels != fake.channels) {
    throw UsageError(str(o.ckpt.empty() ? "--fake " + o.fake : "the checkpoint", " has ",
                         fake.image_size, "x", fake.image_size, "x", fake.channels,
                         " images, but --real has ", real.image_size, "x", real.image_size, "x",
                         real.channels));
  }
  return fake;
}

int evaluate(const EvalOptions& o, const dcgan::distributed::MpiSession& session) {
  using namespace dcgan;
  if (o.ckpt.empty() == o.fake.empty()) throw UsageError("give one of --ckpt and --fake");
  if (o.samples < 2) throw UsageError(str("--samples must be at least 2, got ", o.samples));
  if (o.batch_size < 1) throw UsageError(str("--batch-size must be positive"));
  const bool want_fd = o.metrics.find("fd") != std::string::npos;
  const bool want_kid = o.metrics.find("kid") != std::string::npos;
  const torch::Device device = train::choose_device(o.device, session.local_rank());
  train::use_device(device);
  torch::set_num_threads(train::default_cpu_threads(session.local_size()));
  distributed::CommConfig comm_config;
  comm_config.timeout = std::chrono::seconds(o.comm_timeout);
  auto comm = distributed::make_communicator(comm_config, session, device);
  eval::FeatureExtractor extractor(o.features, device);

  const train::ImageSet real =
      train::data_set_images(o.real, device, o.real_samples > 0 ? o.real_samples : INT64_MAX);
  const std::string cache =
      o.no_cache ? ""
                 : eval::stats_cache_path(
                       o.cache.empty() ? eval::default_stats_cache_dir() : o.cache,
                       sha256_file(o.real + "/manifest.json"), extractor.sha256(), real.count);
  const eval::FeatureStats real_stats = eval::real_statistics(extractor, real.count, o.batch_size,
                                                              real.images, *comm, cache, want_kid);
  const train::ImageSet fake = fake_images(o, real, device);
  const eval::FeatureStats fake_stats =
      eval::extract_features(extractor, fake.count, o.batch_size, fake.images, *comm, want_kid);
  eval::EvalReport report{o.real, real.count, fake.what, fake.count, o.features, extractor.sha256(),
                          0,      o.seed,     {},        {}};
  if (comm->rank() != 0) return 0;
  eval::score(real_stats, fake_stats, want_fd, want_kid, o.kid_subsets, o.kid_subset_size, &report);
  const std::string text = o.json ? eval::report_json(report) : eval::report_text(report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  EvalOptions o;
  CLI::App app{
      "dcgan-eval: FD and KID between a checkpoint's generated images (or --fake DATA) and a "
      "packed data set, with a TorchScript feature extractor (mpirun -np N dcgan-eval ...)"};
  dcgan::cli::set_defaults(app);
  app.add_option("--features", o.features,
                 "TorchScript extractor: float32 NCHW in [-1, 1] at the data's size -> [N, D] "
                 "(docs/evaluation.md exports pytorch-fid's InceptionV3)")
      ->required();
  app.add_option("--real", o.real, "packed data set of real images")->required();
  app.add_option("--ckpt", o.ckpt,
                 "generate from this checkpoint's decoder (run, checkpoints/ or step directory)");
  app.add_option("--fake", o.fake, "or compare with the images of this packed data set");
  app.add_option("--samples", o.samples,
                 "generated images (the most of --fake used); 50000 is the literature's FID50k");
  app.add_option("--real-samples", o.real_samples, "images of --real used; 0 = all");
  app.add_option("--seed", o.seed, "seed of the generated codes and of the KID subsets");
  app.add_option("--batch-size", o.batch_size, "images per extractor call per rank");
  app.add_option("--metrics", o.metrics, "fd, kid or fd,kid")
      ->check(CLI::IsMember({"fd", "kid", "fd,kid", "kid,fd"}));
  app.add_option("--kid-subsets", o.kid_subsets, "KID subsets");
  app.add_option("--kid-subset-size", o.kid_subset_size,
                 "images per KID subset (fewer when a set is smaller)");
  app.add_option("--cache", o.cache,
                 "directory of cached real statistics; default $XDG_CACHE_HOME/dcgan-dist/"
                 "eval-stats (~/.cache/...)");
  app.add_flag("--no-cache", o.no_cache, "neither read nor write cached real statistics");
  app.add_option("--device", o.device, "auto | cpu | cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app.add_option("--comm-timeout", o.comm_timeout,
                 "seconds a collective may wait before the job aborts");
  app.add_flag("--no-ema", o.no_ema,
               "generate with the raw weights, not the EMA (a run with --ema-halflife-kimg)");
  app.add_flag("--json", o.json, "print one JSON object instead of the FD and KID lines");
  app.footer(
      "Prints 'FD <value>' and 'KID <value> ± <std>' on stdout (rank 0); logs go to "
      "stderr.\nExit codes: 0 ok, 1 runtime failure, 2 usage error, 3 missing or bad "
      "data, extractor or checkpoint.");
  if (const auto code = dcgan::cli::parse(app, argc, argv, "dcgan-eval")) return *code;
  return dcgan::run_guarded("dcgan-eval", [&] {
    dcgan::distributed::MpiSession session(&argc, &argv);
    dcgan::log::init({session.rank(), session.world_size(), "", false, false});
    return dcgan::distributed::run_rank_guarded("dcgan-eval", session,
                                                [&] { return evaluate(o, session); });
  });
}
