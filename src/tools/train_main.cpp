// dcgan-train: flags -> MPI -> communicator -> data -> recipe -> Trainer::run().
#include <unistd.h>

#include <random>
#include <string>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/cli.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/file_lock.h"
#include "dcgan/common/log.h"
#include "dcgan/common/main_guard.h"
#include "dcgan/common/str.h"
#include "dcgan/data/dataset.h"
#include "dcgan/distributed/communicator.h"
#include "dcgan/distributed/mpi_session.h"
#include "dcgan/distributed/rank_guard.h"
#include "dcgan/models/registry.h"
#include "dcgan/train/config.h"
#include "dcgan/train/device.h"
#include "dcgan/train/run_dir.h"
#include "dcgan/train/trainer.h"
#include "toml_config.h"

namespace {

using dcgan::train::TrainConfig;
namespace models = dcgan::models;

// "dcgan (the tutorial's GAN) | ae (autoencoder, MSE) | ...", from the model registry.
std::string model_help() {
  std::string help;
  for (const models::ModelSpec& spec : models::model_specs())
    help += (help.empty() ? "" : " | ") + spec.name + " (" + spec.summary + ")";
  return help;
}

// Every option of TrainConfig; --help shows each default.
void add_flags(CLI::App& app, TrainConfig& c, CLI::Option*& resume) {
  dcgan::cli::set_defaults(app);
  app.footer(
      "Flags (--sync-bn, --cache-data, --deterministic, ...) are off unless given.\n"
      "Exit codes: 0 ok, 1 runtime failure, 2 usage/config error, 3 data error, 75 preempted "
      "after a checkpoint (requeue, then run again with --resume).");
  app.set_config("--config", "", "read options from a TOML file (e.g. a run's config.toml)");
  app.config_formatter(std::make_shared<dcgan::tools::TomlConfig>());
  app.allow_config_extras(CLI::config_extras_mode::error);  // a misspelt key is an error
  app.add_option("--data", c.data, "packed data set directory (dcgan-prep pack)")->required();
  app.add_option("--out", c.out, "run directory (config, metrics, samples, checkpoints, logs)")
      ->required();
  resume = app.add_option("--resume", c.resume,
                          "continue from a checkpoint: no value = <out>/checkpoints/latest, or a "
                          "run/checkpoints/step directory")
               ->expected(0, 1);
  app.add_flag("--overwrite", c.overwrite,
               "start over in an --out that holds checkpoints: its old contents move to "
               "<out>.old-<time> (never deleted)");
  app.add_option("--benchmark", c.benchmark,
                 "time STEPS steps of this configuration (after a warm-up) and print img/s, the "
                 "time per phase, peak memory and the FLOP rate; writes only logs to --out")
      ->option_text("STEPS");
  app.add_option("--lock-wait", c.lock_wait,
                 "seconds to wait while another dcgan-train holds the run directory's lock, then "
                 "exit 2 naming it");
  app.add_option("--model", c.model, model_help())->check(CLI::IsMember(models::model_names()));
  app.add_option("--nz", c.nz, "latent size (the AE/VAE code size)");
  app.add_option("--ngf", c.ngf, "generator (AE/VAE decoder) feature maps");
  app.add_option("--ndf", c.ndf, "discriminator (AE/VAE encoder) feature maps");
  app.add_option("--init-from", c.init_from,
                 "start a fresh run from PyTorch state_dicts in this directory (generator.pt and "
                 "discriminator.pt, or encoder.pt and decoder.pt; torch.save(model.state_dict()) "
                 "or dcgan-export) instead of the seeded init");
  app.add_option("--batch-size", c.batch_size, "images per rank per step (global = x ranks)");
  app.add_option("--epochs", c.epochs, "epochs to train (ignored when --steps > 0)");
  app.add_option("--steps", c.steps, "steps to train; 0 = use --epochs");
  app.add_option("--time-limit", c.time_limit,
                 "seconds of training after which every rank stops at the same step, saves and "
                 "exits 0 (0 = none)")
      ->option_text("SECONDS");
  app.add_option("--lr", c.lr,
                 "Adam learning rate of every net; by model: dcgan 2e-4 (the tutorial), ae and vae "
                 "1e-3")
      ->default_str("by-model");
  app.add_option("--beta1", c.beta1,
                 "Adam beta1; by model: dcgan 0.5 (the tutorial), ae and vae 0.9")
      ->default_str("by-model");
  app.add_option("--beta2", c.beta2, "Adam beta2");
  app.add_option("--real-label", c.real_label,
                 "dcgan: target of real images (< 1: one-sided smoothing)");
  app.add_option("--beta", c.beta, "vae: weight of the KL term");
  app.add_option("--ema-halflife-kimg", c.ema_halflife_kimg,
                 "EMA of G's (the decoder's) weights with this half-life in thousands of images, "
                 "used for samples, FD and by dcgan-sample/eval/export (StyleGAN uses 10); 0 = "
                 "none (the tutorial)")
      ->option_text("K");
  app.add_option("--seed", c.seed, "seed of init, fixed noise, latent draws and shuffling");
  app.add_option("--log-every", c.log_every, "steps between metrics lines");
  app.add_option("--sample-every", c.sample_every, "steps between sample grids");
  app.add_option("--ckpt-every", c.ckpt_every, "steps between checkpoints");
  app.add_option("--keep", c.keep, "checkpoints kept");
  app.add_option("--eval-every", c.eval_every,
                 "steps between FD measurements (a multiple of --log-every; 0 = never), written "
                 "as fd into metrics.jsonl, TensorBoard and the console");
  app.add_option("--eval-features", c.eval_features,
                 "TorchScript feature extractor of --eval-every (see dcgan-eval)");
  app.add_option("--eval-samples", c.eval_samples,
                 "images per FD measurement: decoded from fixed codes, against the first as many "
                 "training images");
  app.add_option("--optimizer", c.optimizer,
                 "Adam: fused (at::_fused_adam_, one kernel per net) | torch (libtorch's loop)")
      ->check(CLI::IsMember({"fused", "torch"}));
  app.add_option("--precision", c.precision,
                 "fp32 | tf32 (CUDA matmuls and convs) | bf16 (autocast forward passes; fast on "
                 "CPUs with AVX512-BF16 or AMX)")
      ->check(CLI::IsMember({"fp32", "tf32", "bf16"}));
  app.add_flag("--channels-last", c.channels_last, "channels-last (NHWC) models and batches");
  app.add_option("--device", c.device, "auto | cpu | cuda")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  app.add_option("--threads", c.threads, "CPU threads per rank; 0 = available cores / local ranks");
  app.add_option("--backend", c.backend, "gradient all-reduce: auto | nccl | mpi")
      ->check(CLI::IsMember({"auto", "nccl", "mpi"}));
  app.add_option("--bucket-mb", c.bucket_mb, "all-reduce bucket size in MiB");
  app.add_flag("--overlap,!--no-overlap", c.overlap,
               "start each bucket's all-reduce while backward still runs (default on)");
  app.add_flag("--sync-bn", c.sync_bn, "synchronise BatchNorm statistics across ranks");
  app.add_option("--check-every", c.check_every,
                 "steps between cross-rank consistency checks (0 = at checkpoints only)");
  app.add_option("--on-nan", c.on_nan,
                 "non-finite loss or gradient: fail | skip (the update, on every rank)")
      ->check(CLI::IsMember({"fail", "skip"}));
  app.add_option("--sync-every", c.sync_every,
                 "steps between host reads of the non-finite and stop flags (also at log, sample "
                 "and checkpoint steps); 0 = 1 on CPU, " +
                     std::to_string(dcgan::train::kSyncEveryCuda) + " on CUDA");
  app.add_option("--comm-timeout", c.comm_timeout,
                 "seconds a collective may wait before the job aborts");
  app.add_flag("--cache-data", c.cache_data, "load the whole data set into memory");
  app.add_flag("--data-on-device", c.data_on_device,
               "hold the uint8 data set on the training device and gather batches there");
  app.add_flag("--cuda-graph", c.cuda_graph,
               "capture the whole step as one CUDA graph and replay it (CUDA + NCCL, with "
               "--data-on-device)");
  app.add_flag("--deterministic", c.deterministic, "deterministic algorithms only (debug)");
  app.add_flag("--detect-anomaly", c.detect_anomaly, "autograd anomaly detection (debug, slow)");
  app.add_flag("--check-nan", c.check_nan,
               "check every loss each phase, naming the tensor (debug)");
  app.add_flag("--debug-reduce-single-rank", c.debug_reduce_single_rank,
               "send the gradient buckets through the communicator at one rank too, so one GPU "
               "runs NCCL's path and its overlap (debug)");
  app.add_flag("--verbose", c.verbose, "debug-level logs");
  app.add_flag("--progress", c.progress,
               "rank 0's progress line even where its stderr is no terminal, as under mpirun "
               "(DCGAN_NO_PROGRESS=1 still turns it off)");
}

std::string host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

// Every rank must see the run directory rank 0 writes (checkpoints, logs, the resume's files):
// rank 0 writes a fresh token into <out>/logs/run-token and sends it to every rank, which must
// read the same from its own view of the path. Refused at start, before any training, with exit 2.
void check_shared_run_dir(const std::string& out, const dcgan::distributed::MpiSession& session) {
  using namespace dcgan;
  if (session.world_size() == 1) return;
  const std::string path = out + "/logs/run-token";
  std::string token;
  if (session.rank() == 0) {
    std::random_device random;
    token = str(host_name(), "-", ::getpid(), "-", std::hex, random(), random());
    write_file_atomic(path, token);
  }
  token = session.broadcast(token, 0);
  if (session.rank() == 0) return;
  std::string seen;
  try {
    seen = read_file(path);
  } catch (const Error&) {
    seen.clear();
  }
  if (seen != token) {
    throw UsageError(str("rank ", session.rank(), " on host ", host_name(),
                         " does not see the run directory ", out, " that rank 0 writes (",
                         seen.empty() ? "no " + path : path + " differs",
                         ") HINT: the run directory must be on a file system every node sees"));
  }
}

int train(TrainConfig config, const dcgan::distributed::MpiSession& session) {
  using namespace dcgan;
  train::resolve_model_defaults(&config);
  train::validate_config(config);
  // Console only until rank 0 owns the run directory: nothing, logs included, is written into
  // it before the lock and the fresh-run check.
  log::init({session.rank(), session.world_size(), "", config.verbose, false, config.progress});
  FileLock run_lock;  // held by rank 0 until the run ends
  if (session.rank() == 0) {
    run_lock = train::claim_run_dir(
        {config.out, !config.resume.empty(), config.overwrite, config.lock_wait});
  }
  session.barrier();  // a refusal on rank 0 aborts the job while the others wait here
  // Every rank writes its own rank-N.log into <out>/logs.
  log::init({session.rank(), session.world_size(), config.out + "/logs", config.verbose, false,
             config.progress});
  check_shared_run_dir(config.out, session);
  train::apply_debug_modes(config.deterministic, config.detect_anomaly);
  train::install_stop_handlers();
  const torch::Device device = train::choose_device(config.device, session.local_rank());
  train::use_device(device);
  torch::set_num_threads(config.threads > 0 ? static_cast<int>(config.threads)
                                            : train::default_cpu_threads(session.local_size()));
  distributed::CommConfig comm_config;
  comm_config.backend = config.backend;
  comm_config.timeout = std::chrono::seconds(config.comm_timeout);
  auto comm = distributed::make_communicator(comm_config, session, device);
  log::info(str("placement: host ", host_name(), ", rank ", session.rank(), " of ",
                session.world_size(), ", local rank ", session.local_rank(), " of ",
                session.local_size(), ", device ", device.str(), ", backend ",
                comm->backend_name()));
  data::ShardDataset dataset(config.data);
  train::Trainer trainer(std::move(config), *comm, dataset, device, &train::stop_signal());
  return trainer.run();
}

}  // namespace

int main(int argc, char** argv) {
  TrainConfig config;
  CLI::App app{
      "dcgan-train: data-parallel training of DCGAN, the autoencoder and the VAE (mpirun -np N "
      "dcgan-train ...)"};
  CLI::Option* resume = nullptr;
  add_flags(app, config, resume);
  if (const auto code = dcgan::cli::parse(app, argc, argv, "dcgan-train")) return *code;
  if (resume->count() > 0 && config.resume.empty()) config.resume = "latest";
  return dcgan::run_guarded("dcgan-train", [&] {
    dcgan::distributed::MpiSession session(&argc, &argv);
    return dcgan::distributed::run_rank_guarded("dcgan-train", session,
                                                [&] { return train(config, session); });
  });
}
