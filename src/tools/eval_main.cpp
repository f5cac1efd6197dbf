// dcgan-eval: FD (FID with an Inception extractor) and KID between the images a checkpoint's
// decoder generates (or a second packed data set) and a packed data set, with features from a
// TorchScript extractor. Under mpirun the ranks share the feature extraction.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <sstream>
#include <string>

#include <torch/torch.h>

#include "dcgan/common/cli.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/common/posix_fs.h"
#include "dcgan/common/sha256.h"
#include "dcgan/common/str.h"
#include "dcgan/data/dataset.h"
#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/mpi_session.h"
#include "dcgan/distributed/rank_guard.h"
#include "dcgan/eval/features.h"
#include "dcgan/eval/metrics.h"
#include "dcgan/train/checkpoint.h"
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

std::string default_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::string base =
      xdg != nullptr && *xdg != 0 ? xdg : std::string(home ? home : ".") + "/.cache";
  return base + "/dcgan-dist/eval-stats";
}

std::string number(double v) {
  std::ostringstream out;
  out << std::setprecision(10) << v;
  return out.str();
}

void require_same_shape(const dcgan::data::ShardDataset& real, int64_t size, int64_t channels,
                        const std::string& what) {
  if (real.image_size() != size || real.channels() != channels) {
    throw dcgan::UsageError(dcgan::str(what, " has ", size, "x", size, "x", channels,
                                       " images, but --real has ", real.image_size(), "x",
                                       real.image_size(), "x", real.channels()));
  }
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

  data::ShardDataset real(o.real);
  const int64_t n_real =
      o.real_samples > 0 ? std::min(o.real_samples, real.image_count()) : real.image_count();
  // The real statistics: from the cache when rank 0 finds them there, else extracted by every
  // rank and cached by rank 0.
  const std::string cache_dir = o.cache.empty() ? default_cache_dir() : o.cache;
  const std::string cache = eval::stats_cache_path(
      cache_dir, sha256_file(o.real + "/manifest.json"), extractor.sha256(), n_real);
  eval::FeatureStats real_stats;
  torch::Tensor hit = torch::zeros({1}, torch::kInt32);
  if (comm->rank() == 0 && !o.no_cache && eval::load_cached_stats(cache, want_kid, &real_stats))
    hit.fill_(1);
  comm->broadcast(hit, 0);
  if (hit.item<int32_t>() == 1) {
    if (comm->rank() == 0) log::info(str("real statistics from ", cache));
  } else {
    real_stats = eval::extract_features(extractor, n_real, o.batch_size,
                                        train::dataset_images(real, device), *comm, want_kid);
    if (comm->rank() == 0 && !o.no_cache) {
      posix::make_dirs(cache_dir);
      eval::save_cached_stats(cache, real_stats);
      log::info(str("cached the real statistics in ", cache));
    }
  }

  eval::FeatureStats fake_stats;
  int64_t n_fake = o.samples;
  std::string fake_what;
  if (!o.ckpt.empty()) {
    models::Generator decoder{nullptr};
    train::CheckpointInfo info;
    try {
      const std::string dir = train::resolve_checkpoint_dir(o.ckpt);
      decoder = train::load_generator(dir, device, !o.no_ema);  // verifies first
      info = train::read_checkpoint_info(dir);
    } catch (const DataError&) {
      throw;
    } catch (const std::exception& e) {
      throw train::checkpoint_read_error(o.ckpt, e);
    }
    require_same_shape(real, info.shape.image_size, info.shape.channels, "the checkpoint");
    const bool ema = models::is_ema_module(train::decoder_module(info, !o.no_ema));
    fake_what = str(info.model, " step ", info.cursor.step, ema ? " (EMA)" : "");
    fake_stats = eval::extract_features(
        extractor, n_fake, o.batch_size,
        train::decoded_images([&](const torch::Tensor& z) { return decoder->forward(z); }, n_fake,
                              info.net_options().nz, static_cast<uint64_t>(o.seed), device),
        *comm, want_kid);
  } else {
    data::ShardDataset fake(o.fake);
    require_same_shape(real, fake.image_size(), fake.channels(), "--fake " + o.fake);
    n_fake = std::min(n_fake, fake.image_count());
    fake_what = o.fake;
    fake_stats = eval::extract_features(extractor, n_fake, o.batch_size,
                                        train::dataset_images(fake, device), *comm, want_kid);
  }
  if (comm->rank() != 0) return 0;

  std::ostringstream json;
  json << "{\"real\": \"" << o.real << "\", \"real_samples\": " << n_real << ", \"fake\": \""
       << fake_what << "\", \"fake_samples\": " << n_fake << ", \"features\": \"" << o.features
       << "\", \"features_sha256\": \"" << extractor.sha256() << "\", \"dim\": " << real_stats.dim()
       << ", \"seed\": " << o.seed;
  std::ostringstream lines;
  if (want_fd) {
    const double fd = eval::frechet_distance(eval::moments(real_stats), eval::moments(fake_stats));
    lines << "FD " << number(fd) << "\n";
    json << ", \"fd\": " << number(fd);
  }
  if (want_kid) {
    const eval::Kid kid =
        eval::kernel_inception_distance(real_stats.features, fake_stats.features, o.kid_subsets,
                                        o.kid_subset_size, static_cast<uint64_t>(o.seed));
    lines << "KID " << number(kid.mean) << " ± " << number(kid.std) << "\n";
    json << ", \"kid\": " << number(kid.mean) << ", \"kid_std\": " << number(kid.std)
         << ", \"kid_subsets\": " << kid.subsets << ", \"kid_subset_size\": " << kid.subset_size;
  }
  json << "}\n";
  const std::string text = o.json ? json.str() : lines.str();
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
