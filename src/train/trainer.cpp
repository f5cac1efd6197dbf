// The training loop of one rank. The step lives in the recipe; this file owns what surrounds it:
// start state, data, noise, periodic work and the preemption agreement, over whatever modules the
// recipe names.
#include "dcgan/train/trainer.h"

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/posix_fs.h"
#include "dcgan/common/str.h"
#include "dcgan/data/sampler.h"
#include "dcgan/distributed/module_sync.h"
#include "dcgan/eval/features.h"
#include "dcgan/eval/metrics.h"
#include "dcgan/interop/state_dict.h"
#include "dcgan/models/registry.h"
#include "dcgan/tensorboard/event_writer.h"
#include "dcgan/train/batch_loader.h"
#include "dcgan/train/benchmark.h"
#include "dcgan/train/device.h"
#include "dcgan/train/eval_images.h"
#include "dcgan/train/precision.h"
#include "dcgan/train/run_files.h"
#include "dcgan/train/step_graph.h"

namespace dcgan::train {
namespace {

constexpr int64_t kReferenceCount = 64;  // samples/real.png: an 8x8 grid
// The step-noise RNG is seeded apart from the default one (model init, fixed noise) so the first
// training draw does not repeat the fixed noise.
constexpr int64_t kLatentSeedOffset = 1;

// The fixed codes of FD during training are seeded apart from the latent and init draws.
constexpr int64_t kEvalSeedOffset = 2;
// Images per extractor call of FD during training.
constexpr int64_t kEvalBatch = 100;

// Untimed steps before a benchmark times any (after a CUDA graph's own warm-up and capture).
constexpr int64_t kBenchmarkWarmupSteps = 5;

bool every(int64_t step, int64_t period) { return period > 0 && step % period == 0; }

// A sample file's TensorBoard tag: its name without the step ("step-000500.png" -> "samples",
// "recon-000500.png" -> "recon").
std::string image_tag(const std::string& file) {
  const std::string prefix = file.substr(0, file.rfind('-'));
  return prefix == "step" ? "samples" : prefix;
}

}  // namespace

Trainer::Trainer(TrainConfig config, distributed::Communicator& comm, data::ShardDataset& dataset,
                 torch::Device device, const std::atomic<int>* stop)
    : config_(std::move(config)),
      comm_(comm),
      dataset_(dataset),
      device_(device),
      stop_(stop),
      timer_(device) {
  use_device(device_);
  resolve_model_defaults(&config_);
  validate_config(config_);
  shape_.image_size = dataset_.image_size();
  shape_.channels = dataset_.channels();
  shape_.world_size = comm_.world_size();
  shape_.device = device_.str();
  batches_per_epoch_ = make_sampler().batches_per_epoch();
  if (batches_per_epoch_ <= 0) {
    throw DataError(str(
        config_.data, " has ", dataset_.image_count(), " images, fewer than one global batch of ",
        config_.batch_size * shape_.world_size, " HINT: lower --batch-size or use fewer ranks"));
  }
  sync_every_ = config_.sync_every > 0 ? config_.sync_every
                : device_.is_cuda()    ? kSyncEveryCuda
                                       : 1;
  total_steps_ = config_.steps > 0 ? config_.steps : config_.epochs * batches_per_epoch_;
  epochs_shown_ = (total_steps_ + batches_per_epoch_ - 1) / batches_per_epoch_;
  reference_ = reference_images();
  apply_precision(parse_precision(config_.precision));
  recipe_ = make_recipe({config_, shape_, comm_, device_, reference_, &timer_});
  set_memory_formats();
  stat_names_ = recipe_->stat_names();
  // The noise is drawn on the training device: on a GPU no host copy (and no wait for one) per
  // step, from a generator that a CUDA graph can replay.
  z_generator_ = make_generator(device_, static_cast<uint64_t>(config_.seed) + kLatentSeedOffset);
  if (config_.cuda_graph) {
    if (!device_.is_cuda()) {
      throw UsageError(
          str("--cuda-graph needs a CUDA device; this rank trains on ", device_.str()));
    }
    if (comm_.backend_name() == "mpi") {
      throw UsageError(
          "--cuda-graph needs the NCCL backend (--backend mpi stages every collective through "
          "the host)");
    }
    graph_ = std::make_unique<StepGraph>(device_, z_generator_);
  }
  start_state();
}

Trainer::~Trainer() = default;

data::EpochSampler Trainer::make_sampler() const {
  return data::EpochSampler(dataset_.image_count(), config_.batch_size, shape_.world_size,
                            comm_.rank(), static_cast<uint64_t>(config_.seed));
}

torch::Tensor Trainer::reference_images() const {
  // The first training images of epoch 0's order, the same on every rank.
  const int64_t n = std::min<int64_t>(kReferenceCount, dataset_.image_count());
  std::vector<int64_t> order =
      data::epoch_permutation(dataset_.image_count(), static_cast<uint64_t>(config_.seed), 0);
  order.resize(static_cast<size_t>(n));
  return read_training_images(dataset_, order, torch::kCPU);
}

void Trainer::set_memory_formats() {
  for (const NamedModule& m : recipe_->modules())
    set_memory_format(*m.module, memory_format(config_.channels_last));
}

TrainingState Trainer::state_view() {
  return training_state(*recipe_, &z_generator_, &cursor_, device_);
}

// Resuming on another world size continues the same computation when the global batch stays and
// each rank's BatchNorm sees the same images: the per-rank batch stays, or --sync-bn makes the
// statistics global both in the saved run and now.
void Trainer::warn_if_not_a_continuation(const CheckpointInfo& info) const {
  const int64_t saved_rank_batch = info.config.batch_size;
  const int64_t saved_global = saved_rank_batch * info.shape.world_size;
  const int64_t global = config_.batch_size * shape_.world_size;
  const std::string was = str(info.shape.world_size, " rank(s) x ", saved_rank_batch);
  const std::string now = str(shape_.world_size, " rank(s) x ", config_.batch_size);
  if (saved_global != global) {
    log::warn(str("resuming a checkpoint of global batch ", saved_global, " (", was,
                  ") with global batch ", global, " (", now,
                  "): the run is not a continuation of the same computation"));
  } else if (saved_rank_batch != config_.batch_size && !(info.config.sync_bn && config_.sync_bn)) {
    log::warn(str("resuming a checkpoint of ", was, " on ", now, " without --sync-bn in both: the",
                  " global batch is the same, but BatchNorm's statistics come from each rank's ",
                  "slice, so the run is close to, not the same as, its continuation"));
  }
}

void Trainer::start_state() {
  if (!config_.resume.empty()) {
    const std::string dir = choose_checkpoint();
    const CheckpointInfo info = restore_checkpoint(dir, state_view(), config_, shape_);
    for (const NamedOptimizer& opt : recipe_->optimizers()) {  // the options given now win
      auto& group =
          static_cast<torch::optim::AdamOptions&>(opt.optimizer->param_groups()[0].options());
      group.lr(config_.lr).betas({config_.beta1, config_.beta2});
    }
    warn_if_not_a_continuation(info);
    set_memory_formats();  // a checkpoint's tensors come in the layout they were saved in
    resumed_ = true;
    last_checkpoint_step_ = cursor_.step;
    check_same_resume_step();
    log::info(str("resumed from ", dir, " at step ", cursor_.step, " (epoch ", cursor_.epoch,
                  ", batch ", cursor_.batch, ")"));
    if (!config_.init_from.empty())
      log::info("--init-from is not used on --resume: the checkpoint holds the weights");
  } else if (!config_.init_from.empty()) {
    import_modules();
  }
  if (shape_.world_size > 1) {  // every rank starts from rank 0's modules and tensors
    for (const NamedModule& m : recipe_->modules())
      distributed::broadcast_module(*m.module, comm_, 0);
    for (const NamedTensor& t : recipe_->tensors()) comm_.broadcast(*t.tensor, 0);
  }
}

void Trainer::import_modules() {
  // Every rank reads the files itself, so a bad one fails every rank alike. An EMA file is
  // optional: without one the EMA starts at the imported weights.
  std::string expected;
  for (const NamedModule& m : recipe_->modules()) {
    if (!models::is_ema_module(m.name))
      expected += str(expected.empty() ? "" : ", ", m.name, ".pt");
  }
  bool ema_loaded = false;
  for (const NamedModule& m : recipe_->modules()) {
    const std::string file = config_.init_from + "/" + m.name + ".pt";
    if (models::is_ema_module(m.name) && !posix::exists(file)) continue;
    if (!posix::exists(file)) {
      throw UsageError(str("--init-from ", file, " does not exist HINT: a ", config_.model,
                           " run starts from ", expected,
                           " (torch.save(model.state_dict()) or dcgan-export writes them)"));
    }
    interop::copy_state_dict(interop::load_state_dict(file), *m.module, "--init-from " + file);
    ema_loaded |= models::is_ema_module(m.name);
  }
  if (!ema_loaded) recipe_->reset_ema();
  log::info(
      str("initialised ", expected, ema_loaded ? " and the EMA" : "", " from ", config_.init_from));
}

std::string Trainer::choose_checkpoint() {
  // Rank 0 verifies and chooses (falling back past damaged checkpoints); the others load the
  // step it chose, so every rank resumes from the same checkpoint.
  const std::string requested = config_.resume == "latest" ? config_.out : config_.resume;
  std::string dir;
  int64_t step = 0;
  if (comm_.rank() == 0) {
    dir = choose_resume_checkpoint(requested);
    step = read_checkpoint_info(dir).cursor.step;
  }
  if (shape_.world_size == 1) return dir;
  torch::Tensor chosen = torch::tensor({step}, torch::kInt64);
  comm_.broadcast(chosen, 0);
  return comm_.rank() == 0 ? dir : checkpoint_dir_at_step(requested, chosen.item<int64_t>());
}

void Trainer::check_same_resume_step() {
  if (shape_.world_size == 1) return;
  // Every rank reads the checkpoint itself; all must have found the same one.
  torch::Tensor steps = torch::tensor({cursor_.step, -cursor_.step}, torch::kInt64);
  comm_.all_reduce(steps, distributed::ReduceOp::kMax);
  const int64_t highest = steps[0].item<int64_t>();
  const int64_t lowest = -steps[1].item<int64_t>();
  if (highest != lowest) {
    throw Error(str("ranks resumed from different checkpoints (steps ", lowest, " to ", highest,
                    ") HINT: the run directory must be on a file system that every rank sees"));
  }
}

torch::Tensor Trainer::draw_noise() {
  // One global draw [b*N, width, 1, 1] from the shared RNG; this rank takes rows [r*b, (r+1)*b).
  // 1 rank x N*b and N ranks x b thus see the same noise (world-size invariance).
  const int64_t width = recipe_->noise_size();
  if (width == 0) return {};
  const int64_t b = config_.batch_size;
  torch::Tensor all = torch::randn({b * shape_.world_size, width, 1, 1}, z_generator_,
                                   torch::TensorOptions().device(device_));
  return all.narrow(0, comm_.rank() * b, b);
}

void Trainer::prepare_run_dir() {
  if (comm_.rank() != 0) return;
  posix::make_dirs(config_.out + "/samples");
  posix::make_dirs(config_.out + "/checkpoints");
  TrainConfig saved = config_;
  saved.resume.clear();
  write_file_atomic(config_.out + "/config.toml", config_to_toml(saved, shape_));
}

void Trainer::write_samples() {
  // Every rank renders (sync-BN layers are collectives); rank 0 writes, and gives TensorBoard
  // the same PNG bytes.
  for (const SampleGrid& grid : recipe_->samples(cursor_.step)) {
    last_sample_ = config_.out + "/samples/" + grid.file;
    if (comm_.rank() != 0) continue;
    const PngImage png =
        write_grid_png(grid.images.to(torch::kFloat32).contiguous(), last_sample_, grid.nrow);
    if (tb_) {
      tb_->add_image(image_tag(grid.file), cursor_.step, png.bytes, png.width, png.height,
                     png.channels, tensorboard::wall_time_now());
      tb_->flush();
    }
  }
  last_sample_step_ = cursor_.step;
}

void Trainer::check_consistency() {
  if (shape_.world_size == 1) return;
  wait_for_replays();  // its checksums are host reads
  for (const NamedModule& m : recipe_->modules())
    distributed::check_replicas_consistent(*m.module, m.name, comm_);
}

std::string Trainer::write_checkpoint() {
  check_consistency();
  std::string dir;
  if (comm_.rank() == 0) {
    dir = save_checkpoint(config_.out, state_view(), config_, shape_);
    log::info(str("checkpoint ", dir));
  }
  last_checkpoint_step_ = cursor_.step;
  return dir;
}

Trainer::Stop Trainer::stop_agreed() {
  int signal = stop_ != nullptr ? stop_->load() : 0;
  int out_of_time = 0;
  if (config_.time_limit > 0) {
    const double trained =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - run_clock_).count();
    out_of_time = trained >= config_.time_limit ? 1 : 0;
  }
  if (shape_.world_size > 1) {  // a two-int max all-reduce: any rank's reason stops every rank
    torch::Tensor t = torch::tensor({signal, out_of_time}, torch::kInt32);
    comm_.all_reduce(t, distributed::ReduceOp::kMax);
    signal = t[0].item<int32_t>();
    out_of_time = t[1].item<int32_t>();
  }
  if (signal != 0) return Stop::kSignal;
  return out_of_time != 0 ? Stop::kTimeLimit : Stop::kNone;
}

void Trainer::log_metrics(const StepResult& result, int64_t batch, int64_t epoch,
                          MetricsLog* metrics) {
  torch::Tensor stats = result.stats.to(torch::kCPU, torch::kFloat64);
  if (shape_.world_size > 1) stats = distributed::all_reduce_mean_host(comm_, stats);
  stats = stats.contiguous();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - log_clock_).count();
  MetricsRecord r;
  r.epoch = epoch;
  r.step = cursor_.step;
  std::vector<double> values(static_cast<size_t>(stats.numel()));
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = stats[static_cast<int64_t>(i)].item<double>();
    r.values.emplace_back(stat_names_.at(i), values[i]);
  }
  const double images_per_s = static_cast<double>((cursor_.step - log_clock_step_) *
                                                  config_.batch_size * shape_.world_size) /
                              std::max(seconds, 1e-9);
  r.values.emplace_back("images_per_s", images_per_s);
  const std::vector<NamedOptimizer> optimizers = recipe_->optimizers();
  for (const NamedOptimizer& opt : optimizers) {
    r.values.emplace_back(optimizers.size() == 1 ? std::string("lr") : "lr_" + opt.name,
                          opt.optimizer->param_groups()[0].options().get_lr());
  }
  std::string console_stats = recipe_->console_stats(values);
  progress_stats_ = console_stats;
  if (every(cursor_.step, config_.eval_every)) {  // a collective: before rank 0's early return
    const double fd = measure_fd();
    r.values.emplace_back("fd", fd);
    console_stats += str("\tFD: ", fd);
  }
  log_clock_ = std::chrono::steady_clock::now();  // the FD's time is not training time
  log_clock_step_ = cursor_.step;
  if (metrics == nullptr) return;
  metrics->append(r);
  if (tb_) {  // the same tags, steps and values as metrics.jsonl
    const double wall_time = tensorboard::wall_time_now();
    for (const auto& [name, value] : r.values) tb_->add_scalar(name, r.step, value, wall_time);
    tb_->flush();
  }
  log::info(
      console_line(epoch, epochs_shown_, batch, batches_per_epoch_, console_stats, images_per_s));
}

void Trainer::show_progress(int64_t first_step) {
  if (!log::progress_enabled()) return;
  const auto now = std::chrono::steady_clock::now();
  if (cursor_.step != total_steps_ && now - last_progress_ < std::chrono::milliseconds(250)) return;
  last_progress_ = now;
  const double elapsed = std::chrono::duration<double>(now - run_clock_).count();
  const double steps_per_s =
      static_cast<double>(cursor_.step - first_step) / std::max(elapsed, 1e-9);
  double eta = static_cast<double>(total_steps_ - cursor_.step) / std::max(steps_per_s, 1e-9);
  if (config_.time_limit > 0) eta = std::min(eta, std::max(0.0, config_.time_limit - elapsed));
  const auto s = static_cast<int64_t>(eta + 0.5);
  char clock[32];
  std::snprintf(clock, sizeof clock, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  std::string stats = progress_stats_;
  for (char& c : stats) c = c == '\t' ? ' ' : c;
  log::progress(str("[", cursor_.step, "/", total_steps_, "] ",
                    static_cast<int64_t>(
                        steps_per_s * static_cast<double>(config_.batch_size * shape_.world_size)),
                    " img/s  ETA ", clock, stats.empty() ? "" : "  ", stats));
}

void Trainer::prepare_eval() {
  if (config_.eval_every == 0) return;
  extractor_ = std::make_unique<eval::FeatureExtractor>(config_.eval_features, device_);
  const int64_t n = std::min(config_.eval_samples, dataset_.image_count());
  const auto t0 = std::chrono::steady_clock::now();
  const eval::Moments real = eval::moments(eval::extract_features(
      *extractor_, n, kEvalBatch, dataset_images(dataset_, device_), comm_, false));
  real_mean_ = real.mean;
  real_cov_ = real.cov;
  log::info(str("FD every ", config_.eval_every, " steps: ", config_.eval_samples,
                " decoded images against the first ", n, " training images (features of width ",
                real_mean_.size(0), " in ",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                " s)"));
}

double Trainer::measure_fd() {
  wait_for_replays();
  const eval::FeatureStats fake = eval::extract_features(
      *extractor_, config_.eval_samples, kEvalBatch,
      decoded_images([this](const torch::Tensor& z) { return recipe_->decode(z); },
                     config_.eval_samples, config_.nz,
                     static_cast<uint64_t>(config_.seed) + kEvalSeedOffset, device_),
      comm_, false);
  return eval::frechet_distance({real_mean_, real_cov_}, eval::moments(fake));
}

StepResult Trainer::train_step(Batches& batches, HostBatch* host) {
  *host = batches.next();
  const torch::Tensor real =
      to_training_batch(host->images, device_, memory_format(config_.channels_last));
  const int64_t step = cursor_.step + 1;
  StepResult result;
  if (!graph_) {
    torch::Tensor noise = draw_noise();
    lap(&timer_, "data");
    result = recipe_->step(real, noise, step);
  } else {
    // The graph reads its batch from one static tensor and draws its noise inside the step.
    if (!static_real_.defined()) static_real_ = torch::empty_like(real);
    static_real_.copy_(real);
    result = graph_->run([&] { return recipe_->step(static_real_, draw_noise(), step); });
  }
  cursor_.step = step;
  cursor_.epoch = host->after.epoch;
  cursor_.batch = host->after.batch;
  return result;
}

bool Trainer::sync_point(int64_t step) const {
  return every(step, sync_every_) || every(step, config_.log_every) ||
         every(step, config_.sample_every) || every(step, config_.ckpt_every) ||
         step == total_steps_;
}

void Trainer::after_each_step(const StepResult& result, int64_t batch, int64_t epoch,
                              MetricsLog* metrics) {
  // The replicas are bit-identical here (Note [BN statistics ride on the gradient all-reduce]).
  const int64_t step = cursor_.step;
  if (every(step, config_.log_every)) log_metrics(result, batch, epoch, metrics);
  if (every(step, config_.check_every)) check_consistency();
  if (every(step, config_.sample_every)) write_samples();
  if (every(step, config_.ckpt_every)) write_checkpoint();
}

Trainer::Batches Trainer::make_batches() {
  Batches batches;
  if (config_.data_on_device) {
    batches.on_device = std::make_unique<DeviceBatches>(dataset_, make_sampler(), cursor_.epoch,
                                                        cursor_.batch, device_);
  } else {
    batches.loader = std::make_unique<BatchLoader>(dataset_, make_sampler(), cursor_.epoch,
                                                   cursor_.batch, /*pin=*/device_.is_cuda());
  }
  return batches;
}

HostBatch Trainer::Batches::next() { return on_device ? on_device->next() : loader->next(); }

Trainer::Batches::Batches() = default;
Trainer::Batches::Batches(Batches&&) noexcept = default;
Trainer::Batches::~Batches() = default;

void Trainer::wait_for_replays() {
  // A host read behind a replay stuck on a dead peer would never return: wait under the deadline.
  if (graph_) comm_.synchronize("the CUDA graph's step");
}

void Trainer::wait_for_device() {
  wait_for_replays();
  if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
}

int Trainer::run_benchmark() {
  log::info(config_table(config_, shape_));
  if (config_.cache_data) dataset_.cache_in_memory();
  Batches batches = make_batches();
  HostBatch host;
  // A stop signal (a timeout's SIGTERM) ends a benchmark at once: it has nothing to save, and a
  // rank that left without a word would leave the others waiting for the deadline.
  auto one_step = [&] {
    if (stop_ != nullptr && stop_->load() != 0) {
      throw Error(str("the benchmark was stopped by signal ", stop_->load(), " after step ",
                      cursor_.step, "; no figures"));
    }
    train_step(batches, &host);
  };
  // Warm-up: lazy set-up, and with --cuda-graph its eager steps and the capture.
  const int64_t warmup = (graph_ ? StepGraph::kWarmupSteps : 0) + kBenchmarkWarmupSteps;
  const int64_t steps = config_.benchmark;
  for (int64_t i = 0; i < warmup; ++i) one_step();
  wait_for_device();
  recipe_->report(cursor_.step);
  const auto t0 = std::chrono::steady_clock::now();
  SyncCounter syncs(device_);  // the steps' own host syncs, not the wait that ends the timing
  syncs.start();
  for (int64_t i = 0; i < steps; ++i) one_step();
  syncs.stop();
  wait_for_device();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  recipe_->report(cursor_.step);
  // The phases: as many steps again, each phase waited for (which hides nothing: their sum is
  // above the free-running step). A graph is one launch; it has no phases to split.
  std::vector<std::pair<std::string, double>> phases;
  if (!graph_) {
    timer_.enable(true);
    for (int64_t i = 0; i < steps; ++i) one_step();
    phases = timer_.seconds();
    timer_.enable(false);
    recipe_->report(cursor_.step);
  }
  const int64_t global_batch = config_.batch_size * shape_.world_size;
  BenchmarkFigures figures;
  figures.images_per_s = static_cast<double>(steps * global_batch) / std::max(seconds, 1e-9);
  figures.step_ms = 1e3 * seconds / static_cast<double>(steps);
  figures.flops_per_image = recipe_->step_flops_per_image();
  figures.peak_bytes = peak_memory_bytes(device_);
  figures.peak_tflops = device_peak_tflops(device_, parse_precision(config_.precision));
  for (auto& [name, total] : phases) total = 1e3 * total / static_cast<double>(steps);
  figures.phase_ms = phases;
  figures.host_waits_per_step =
      static_cast<double>(syncs.host_waits()) / static_cast<double>(steps);
  figures.c10_syncs_per_step =
      syncs.c10_syncs() < 0 ? -1.0
                            : static_cast<double>(syncs.c10_syncs()) / static_cast<double>(steps);
  if (comm_.rank() == 0) log::info(benchmark_table(config_, shape_, warmup, steps, figures));
  comm_.barrier();
  log::flush();
  return static_cast<int>(ExitCode::kOk);
}

int Trainer::run() {
  if (config_.benchmark > 0) return run_benchmark();
  log::info(config_table(config_, shape_));
  log::info(str("global batch ", config_.batch_size * shape_.world_size, " (", config_.batch_size,
                " per rank x ", shape_.world_size, " ranks, backend ", comm_.backend_name(), "), ",
                batches_per_epoch_, " batches per epoch, ", total_steps_, " steps"));
  prepare_run_dir();
  if (comm_.rank() == 0 && !posix::exists(config_.out + "/samples/real.png"))
    write_grid_png(reference_, config_.out + "/samples/real.png");
  std::unique_ptr<MetricsLog> metrics;
  if (comm_.rank() == 0) {
    metrics = std::make_unique<MetricsLog>(config_.out + "/metrics.jsonl", cursor_.step);
    // A new event file per invocation. Its SessionLog START at the first step this run makes
    // tells TensorBoard to drop what an earlier writer left at or after it (the steps after the
    // checkpoint an interrupted run resumes from; all of an earlier fresh run's), as
    // metrics.jsonl drops its lines: no curve doubles back.
    tb_ = std::make_unique<tensorboard::EventWriter>(config_.out + "/tb");
    tb_->start_session(cursor_.step + 1, tensorboard::wall_time_now());
  }
  if (config_.cache_data) dataset_.cache_in_memory();
  prepare_eval();
  Batches batches = make_batches();
  log_clock_ = std::chrono::steady_clock::now();
  run_clock_ = log_clock_;
  log_clock_step_ = cursor_.step;
  const int64_t first_step = cursor_.step;

  while (cursor_.step < total_steps_) {
    HostBatch host;
    const StepResult result = train_step(batches, &host);
    // The host reads of the device-side flags come at sync points, the same steps on every rank:
    // a non-finite update fails here (before any checkpoint of this step), and the stop signal
    // is agreed on here.
    const bool sync = sync_point(cursor_.step);
    if (sync) {
      wait_for_replays();
      recipe_->report(cursor_.step);
    }
    after_each_step(result, host.batch, host.epoch, metrics.get());
    show_progress(first_step);
    if (after_step_) after_step_(cursor_.step);
    const Stop stop = sync ? stop_agreed() : Stop::kNone;
    if (stop == Stop::kSignal) {
      log::warn(str("stop signal: every rank stops after step ", cursor_.step, "; saving"));
      if (last_checkpoint_step_ != cursor_.step) write_checkpoint();
      comm_.barrier();  // no rank exits before rank 0's checkpoint is complete
      log::flush();
      return static_cast<int>(ExitCode::kPreempted);
    }
    if (stop == Stop::kTimeLimit) {  // a finished run: samples, checkpoint, exit 0
      log::info(str("--time-limit ", config_.time_limit, " s reached: every rank stops after step ",
                    cursor_.step, " of ", total_steps_, " (--resume continues towards the rest)"));
      break;
    }
  }
  if (cursor_.step > first_step || !resumed_) {
    if (last_sample_step_ != cursor_.step) write_samples();
    if (last_checkpoint_step_ != cursor_.step) write_checkpoint();
  }
  comm_.barrier();  // the run's files are complete when any rank returns
  if (comm_.rank() == 0) {
    log::info(last_sample_.empty() ? str("done: the run was already at step ", cursor_.step)
                                   : str("done: last sample ", last_sample_));
  }
  return static_cast<int>(ExitCode::kOk);
}

}  // namespace dcgan::train
