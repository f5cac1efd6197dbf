// The option table of dcgan-train (config.h): every option's flag, help and allowed values, once.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "dcgan/common/str.h"
#include "dcgan/models/registry.h"
#include "dcgan/train/config.h"

namespace dcgan::train {
namespace {

// A table row under construction.
class Row {
 public:
  Row(const char* name, std::string help) {
    spec_.name = name;
    spec_.help = std::move(help);
  }
  Row& one_of(std::vector<std::string> choices) {
    spec_.choices = std::move(choices);
    return *this;
  }
  Row& value_name(const char* name) {
    spec_.value_name = name;
    return *this;
  }
  Row& shown_default(const char* text) {
    spec_.default_text = text;
    return *this;
  }
  Row& required() {
    spec_.required = true;
    return *this;
  }
  Row& per_invocation() {
    spec_.saved = false;
    return *this;
  }
  const OptionSpec& spec() const { return spec_; }

 private:
  OptionSpec spec_;
};

// "dcgan (the tutorial's GAN) | ae (autoencoder, MSE) | ...", from the model registry.
std::string model_help() {
  std::string help;
  for (const models::ModelSpec& spec : models::model_specs())
    help += (help.empty() ? "" : " | ") + spec.name + " (" + spec.summary + ")";
  return help;
}

// The shorter of 0.0002 and 2e-4.
std::string short_number(double value) {
  char plain[32], exp[32];
  std::snprintf(plain, sizeof plain, "%g", value);
  std::snprintf(exp, sizeof exp, "%.0e", value);
  std::string e = exp;  // "2e-04" -> "2e-4"
  const size_t sign = e.find_first_of("+-", 1);
  if (sign != std::string::npos) {
    const size_t digits = e.find_first_not_of('0', sign + 1);
    e = e.substr(0, sign + 1) + e.substr(digits == std::string::npos ? e.size() - 1 : digits);
    if (e[sign] == '+') e.erase(sign, 1);
  }
  const bool exact = std::strtod(e.c_str(), nullptr) == value;
  return exact && e.size() < std::strlen(plain) ? e : plain;
}

// "dcgan 2e-4 (the tutorial), ae and vae 1e-3 (Adam's own)": one default of every model, the
// models that share a value and its source together.
std::string by_model(double models::ModelSpec::*value) {
  std::vector<std::pair<std::string, std::string>> groups;  // models, "value (source)"
  for (const models::ModelSpec& spec : models::model_specs()) {
    const std::string text = str(short_number(spec.*value), " (", spec.adam_source, ")");
    if (!groups.empty() && groups.back().second == text) {
      groups.back().first += " and " + spec.name;
    } else {
      groups.emplace_back(spec.name, text);
    }
  }
  std::string out;
  for (const auto& [names, text] : groups) out += (out.empty() ? "" : ", ") + names + " " + text;
  return out;
}

}  // namespace

std::vector<std::pair<OptionSpec, OptionField>> option_table(TrainConfig& c) {
  std::vector<std::pair<OptionSpec, OptionField>> rows;
  auto add = [&rows](const Row& row, OptionField field) { rows.emplace_back(row.spec(), field); };
  // The run.
  add(Row("data", "packed data set directory (dcgan-prep pack)").required(), &c.data);
  add(Row("out", "run directory (config, metrics, samples, checkpoints, logs)").required(), &c.out);
  add(Row("resume",
          "continue from a checkpoint: no value = <out>/checkpoints/latest, or a "
          "run/checkpoints/step directory")
          .per_invocation(),
      &c.resume);
  add(Row("overwrite",
          "start over in an --out that holds checkpoints: its old contents move to "
          "<out>.old-<time> (never deleted)")
          .per_invocation(),
      &c.overwrite);
  add(Row("benchmark",
          "time STEPS steps of this configuration (after a warm-up) and print img/s, the time per "
          "phase, peak memory and the FLOP rate; writes only logs to --out")
          .value_name("STEPS")
          .per_invocation(),
      &c.benchmark);
  add(Row("lock-wait",
          "seconds to wait while another dcgan-train holds the run directory's lock, then exit 2 "
          "naming it")
          .per_invocation(),
      &c.lock_wait);
  // The model.
  add(Row("model", model_help()).one_of(models::model_names()), &c.model);
  add(Row("nz", "latent size (the AE/VAE code size)"), &c.nz);
  add(Row("ngf", "generator (AE/VAE decoder) feature maps"), &c.ngf);
  add(Row("ndf", "discriminator (AE/VAE encoder) feature maps"), &c.ndf);
  add(Row("init-from",
          "start a fresh run from PyTorch state_dicts in this directory (generator.pt and "
          "discriminator.pt, or encoder.pt and decoder.pt; torch.save(model.state_dict()) or "
          "dcgan-export) instead of the seeded init"),
      &c.init_from);
  // The schedule and the optimizer.
  add(Row("batch-size", "images per rank per step (global = x ranks)"), &c.batch_size);
  add(Row("epochs", "epochs to train (ignored when --steps > 0)"), &c.epochs);
  add(Row("steps", "steps to train; 0 = use --epochs"), &c.steps);
  add(Row("time-limit",
          "seconds of training after which every rank stops at the same step, saves and exits 0 "
          "(0 = none)")
          .value_name("SECONDS"),
      &c.time_limit);
  add(Row("lr", "Adam learning rate of every net; by model: " + by_model(&models::ModelSpec::lr))
          .shown_default("by-model"),
      &c.lr);
  add(Row("beta1", "Adam beta1; by model: " + by_model(&models::ModelSpec::beta1))
          .shown_default("by-model"),
      &c.beta1);
  add(Row("beta2", "Adam beta2"), &c.beta2);
  add(Row("real-label", "dcgan: target of real images (< 1: one-sided smoothing)"), &c.real_label);
  add(Row("beta", "vae: weight of the KL term"), &c.beta);
  add(Row("ema-halflife-kimg",
          "EMA of G's (the decoder's) weights with this half-life in thousands of images, used "
          "for samples, FD and by dcgan-sample/eval/export (StyleGAN uses 10); 0 = none (the "
          "tutorial)")
          .value_name("K"),
      &c.ema_halflife_kimg);
  add(Row("seed", "seed of init, fixed noise, latent draws and shuffling"), &c.seed);
  // Periodic work.
  add(Row("log-every", "steps between metrics lines"), &c.log_every);
  add(Row("sample-every", "steps between sample grids"), &c.sample_every);
  add(Row("ckpt-every", "steps between checkpoints"), &c.ckpt_every);
  add(Row("keep", "checkpoints kept"), &c.keep);
  add(Row("eval-every",
          "steps between FD measurements (a multiple of --log-every; 0 = never), written as fd "
          "into metrics.jsonl, TensorBoard and the console"),
      &c.eval_every);
  add(Row("eval-features", "TorchScript feature extractor of --eval-every (see dcgan-eval)"),
      &c.eval_features);
  add(Row("eval-samples",
          "images per FD measurement: decoded from fixed codes, against the first as many "
          "training images"),
      &c.eval_samples);
  // Speed.
  add(Row("optimizer",
          "Adam: fused (at::_fused_adam_, one kernel per net) | torch (libtorch's "
          "loop)")
          .one_of({"fused", "torch"}),
      &c.optimizer);
  add(Row("precision",
          "fp32 | tf32 (CUDA matmuls and convs) | bf16 (autocast forward passes; fast on CPUs "
          "with AVX512-BF16 or AMX)")
          .one_of({"fp32", "tf32", "bf16"}),
      &c.precision);
  add(Row("channels-last", "channels-last (NHWC) models and batches"), &c.channels_last);
  // Placement and data parallelism.
  add(Row("device", "auto | cpu | cuda").one_of({"auto", "cpu", "cuda"}), &c.device);
  add(Row("threads", "CPU threads per rank; 0 = available cores / local ranks"), &c.threads);
  add(Row("backend", "gradient all-reduce: auto | nccl | mpi").one_of({"auto", "nccl", "mpi"}),
      &c.backend);
  add(Row("bucket-mb", "all-reduce bucket size in MiB"), &c.bucket_mb);
  add(Row("overlap", "start each bucket's all-reduce while backward still runs"), &c.overlap);
  add(Row("sync-bn", "synchronise BatchNorm statistics across ranks"), &c.sync_bn);
  add(Row("check-every", "steps between cross-rank consistency checks (0 = at checkpoints only)"),
      &c.check_every);
  add(Row("on-nan", "non-finite loss or gradient: fail | skip (the update, on every rank)")
          .one_of({"fail", "skip"}),
      &c.on_nan);
  add(Row("sync-every",
          str("steps between host reads of the non-finite and stop flags (also at log, sample and "
              "checkpoint steps); 0 = 1 on CPU, ",
              kSyncEveryCuda, " on CUDA")),
      &c.sync_every);
  add(Row("comm-timeout", "seconds a collective may wait before the job aborts"), &c.comm_timeout);
  add(Row("cache-data", "load the whole data set into memory"), &c.cache_data);
  add(Row("data-on-device",
          "hold the uint8 data set on the training device and gather batches there"),
      &c.data_on_device);
  add(Row("cuda-graph",
          "capture the whole step as one CUDA graph and replay it (CUDA + NCCL, with "
          "--data-on-device)"),
      &c.cuda_graph);
  // Debugging.
  add(Row("deterministic", "deterministic algorithms only (debug)"), &c.deterministic);
  add(Row("detect-anomaly", "autograd anomaly detection (debug, slow)"), &c.detect_anomaly);
  add(Row("check-nan", "check every loss each phase, naming the tensor (debug)"), &c.check_nan);
  add(Row("debug-reduce-single-rank",
          "send the gradient buckets through the communicator at one rank too, so one GPU runs "
          "NCCL's path and its overlap (debug)"),
      &c.debug_reduce_single_rank);
  add(Row("verbose", "debug-level logs"), &c.verbose);
  add(Row("progress",
          "rank 0's progress line even where its stderr is no terminal, as under mpirun "
          "(DCGAN_NO_PROGRESS=1 still turns it off)"),
      &c.progress);
  return rows;
}

}  // namespace dcgan::train
