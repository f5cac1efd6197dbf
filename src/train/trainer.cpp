// The training loop of one rank. The fenced step lives in GanStep; this file owns what surrounds
// it: start state, data, periodic work and the preemption agreement.
#include "dcgan/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "dcgan/data/sampler.h"
#include "dcgan/distributed/sync_batch_norm.h"
#include "dcgan/train/batch_loader.h"
#include "dcgan/train/run_files.h"
#include "posix_fs.h"

namespace dcgan::train {
namespace {

constexpr int64_t kFixedNoiseCount = 64;  // the 8x8 sample grid
// The latent RNG is seeded apart from the default one (model init, fixed noise) so the first
// training draw does not repeat the fixed noise.
constexpr int64_t kLatentSeedOffset = 1;

bool every(int64_t step, int64_t period) { return period > 0 && step % period == 0; }

}  // namespace

Trainer::Trainer(TrainConfig config, distributed::Communicator& comm, data::ShardDataset& dataset,
                 torch::Device device, const std::atomic<int>* stop)
    : config_(std::move(config)), comm_(comm), dataset_(dataset), device_(device), stop_(stop) {
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
  total_steps_ = config_.steps > 0 ? config_.steps : config_.epochs * batches_per_epoch_;
  epochs_shown_ = (total_steps_ + batches_per_epoch_ - 1) / batches_per_epoch_;
  build_models();
  start_state();
}

Trainer::~Trainer() = default;

data::EpochSampler Trainer::make_sampler() const {
  return data::EpochSampler(dataset_.image_count(), config_.batch_size, shape_.world_size,
                            comm_.rank(), static_cast<uint64_t>(config_.seed));
}

void Trainer::build_models() {
  models::DcganOptions options = model_options(config_, shape_);
  if (config_.sync_bn) {
    options.norm = [this](int64_t channels) {
      return torch::nn::AnyModule(distributed::SyncBatchNorm2d(channels, comm_));
    };
  }
  models::validate_options(options);
  // Init on the CPU from the seed, as the tutorial does, so every device starts from the same
  // weights; the fixed noise is the next draw of the same generator.
  torch::manual_seed(static_cast<uint64_t>(config_.seed));
  generator_ = models::Generator(options);
  discriminator_ = models::Discriminator(options);
  models::init_weights(*generator_);
  models::init_weights(*discriminator_);
  fixed_noise_ = torch::randn({kFixedNoiseCount, config_.nz, 1, 1}).to(device_);
  z_generator_ =
      at::detail::createCPUGenerator(static_cast<uint64_t>(config_.seed) + kLatentSeedOffset);
  generator_->to(device_);
  discriminator_->to(device_);

  auto adam = [&](torch::nn::Module& net) {
    return std::make_unique<torch::optim::Adam>(
        net.parameters(),
        torch::optim::AdamOptions(config_.lr).betas({config_.beta1, config_.beta2}));
  };
  opt_g_ = adam(*generator_);
  opt_d_ = adam(*discriminator_);
  const auto bucket_bytes = static_cast<size_t>(config_.bucket_mb * 1024 * 1024);
  reducer_g_ =
      std::make_unique<distributed::GradReducer>(generator_->parameters(), comm_, bucket_bytes);
  reducer_d_ =
      std::make_unique<distributed::GradReducer>(discriminator_->parameters(), comm_, bucket_bytes);
  StepOptions step_options;
  step_options.real_label = config_.real_label;
  step_options.skip_non_finite = config_.on_nan == "skip";
  step_options.check_each_phase = config_.check_nan;
  step_ = std::make_unique<GanStep>(generator_, discriminator_, *opt_g_, *opt_d_, *reducer_g_,
                                    *reducer_d_, comm_, step_options);
}

TrainingState Trainer::state_view() {
  TrainingState state;
  state.generator = &generator_;
  state.discriminator = &discriminator_;
  state.opt_g = opt_g_.get();
  state.opt_d = opt_d_.get();
  state.fixed_noise = &fixed_noise_;
  state.z_generator = &z_generator_;
  state.cursor = &cursor_;
  state.cuda_rng = device_.is_cuda();
  return state;
}

void Trainer::start_state() {
  if (!config_.resume.empty()) {
    const std::string dir = choose_checkpoint();
    const CheckpointInfo info = restore_checkpoint(dir, state_view(), config_, shape_);
    for (auto* opt : {opt_g_.get(), opt_d_.get()}) {  // the options given now win over the saved
      auto& group = static_cast<torch::optim::AdamOptions&>(opt->param_groups()[0].options());
      group.lr(config_.lr).betas({config_.beta1, config_.beta2});
    }
    if (info.shape.world_size != shape_.world_size) {
      log::warn(str("resuming a ", info.shape.world_size, "-rank checkpoint on ", shape_.world_size,
                    " ranks: the global batch changes, so the run is not a continuation of the same"
                    " computation"));
    }
    resumed_ = true;
    last_checkpoint_step_ = cursor_.step;
    check_same_resume_step();
    log::info(str("resumed from ", dir, " at step ", cursor_.step, " (epoch ", cursor_.epoch,
                  ", batch ", cursor_.batch, ")"));
  }
  if (shape_.world_size > 1) {  // every rank starts from rank 0's model and fixed noise
    distributed::broadcast_module(*generator_, comm_, 0);
    distributed::broadcast_module(*discriminator_, comm_, 0);
    comm_.broadcast(fixed_noise_, 0);
  }
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

torch::Tensor Trainer::draw_latent() {
  // One global draw [b*N, nz, 1, 1] from the shared RNG; this rank takes rows [r*b, (r+1)*b).
  // 1 rank x N*b and N ranks x b thus see the same noise (world-size invariance).
  const int64_t b = config_.batch_size;
  torch::Tensor all = torch::randn({b * shape_.world_size, config_.nz, 1, 1}, z_generator_);
  return all.narrow(0, comm_.rank() * b, b).to(device_);
}

void Trainer::prepare_run_dir() {
  if (comm_.rank() != 0) return;
  posix::make_dirs(config_.out + "/samples");
  posix::make_dirs(config_.out + "/checkpoints");
  TrainConfig saved = config_;
  saved.resume.clear();
  write_file_atomic(config_.out + "/config.toml", config_to_toml(saved, shape_));
}

void Trainer::write_real_samples() {
  // 64 training images (the first of epoch 0's order), before the loader takes the dataset.
  const int64_t n = std::min<int64_t>(kFixedNoiseCount, dataset_.image_count());
  std::vector<int64_t> order =
      data::epoch_permutation(dataset_.image_count(), static_cast<uint64_t>(config_.seed), 0);
  order.resize(static_cast<size_t>(n));
  torch::Tensor images =
      torch::empty({n, shape_.image_size, shape_.image_size, shape_.channels}, torch::kUInt8);
  dataset_.read(order.data(), order.size(), images.data_ptr<uint8_t>());
  write_grid_png(to_training_batch(images, torch::kCPU), config_.out + "/samples/real.png");
}

void Trainer::write_samples() {
  // Eval mode: the (rank-averaged) running statistics render the grid and are not updated by
  // it, so sampling never changes the training state. Every rank computes (sync-BN layers are
  // collectives); rank 0 writes.
  torch::Tensor images;
  {
    torch::NoGradGuard no_grad;
    generator_->eval();
    images = generator_->forward(fixed_noise_);
    generator_->train();
  }
  if (comm_.rank() == 0) write_grid_png(images, sample_path(config_.out, cursor_.step));
  last_sample_step_ = cursor_.step;
}

void Trainer::check_consistency() {
  if (shape_.world_size == 1) return;
  distributed::check_replicas_consistent(*generator_, "generator", comm_);
  distributed::check_replicas_consistent(*discriminator_, "discriminator", comm_);
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

bool Trainer::stop_agreed() {
  int flag = stop_ != nullptr ? stop_->load() : 0;
  if (shape_.world_size > 1) {  // one-int max all-reduce: any rank's signal stops every rank here
    torch::Tensor t = torch::tensor({flag}, torch::kInt32);
    comm_.all_reduce(t, distributed::ReduceOp::kMax);
    flag = t.item<int32_t>();
  }
  return flag != 0;
}

void Trainer::log_metrics(const StepResult& result, int64_t batch, int64_t epoch,
                          MetricsLog* metrics) {
  torch::Tensor stats = result.stats.to(torch::kCPU, torch::kFloat64);
  if (shape_.world_size > 1) stats = distributed::all_reduce_mean_host(comm_, stats);
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - log_clock_).count();
  MetricsRecord r;
  r.epoch = epoch;
  r.step = cursor_.step;
  auto s = stats.accessor<double, 1>();
  r.loss_d = s[kLossD];
  r.loss_g = s[kLossG];
  r.d_x = s[kDx];
  r.d_g_z1 = s[kDGz1];
  r.d_g_z2 = s[kDGz2];
  r.images_per_s = static_cast<double>((cursor_.step - log_clock_step_) * config_.batch_size *
                                       shape_.world_size) /
                   std::max(seconds, 1e-9);
  r.lr_d = opt_d_->param_groups()[0].options().get_lr();
  r.lr_g = opt_g_->param_groups()[0].options().get_lr();
  log_clock_ = now;
  log_clock_step_ = cursor_.step;
  if (metrics == nullptr) return;
  metrics->append(r);
  log::info(console_line(r, epochs_shown_, batch, batches_per_epoch_));
}

void Trainer::after_each_step(const StepResult& result, int64_t batch, int64_t epoch,
                              MetricsLog* metrics) {
  // Per-rank BN statistics (no sync-BN) are averaged after every step: one small all-reduce
  // per net keeps replicas bit-identical, like DDP's default buffer broadcast, so a checkpoint
  // or a sample at any step sees the same model on every rank and resume is exact.
  if (shape_.world_size > 1 && !config_.sync_bn) {
    distributed::average_bn_running_stats(*generator_, comm_);
    distributed::average_bn_running_stats(*discriminator_, comm_);
  }
  const int64_t step = cursor_.step;
  if (every(step, config_.log_every)) log_metrics(result, batch, epoch, metrics);
  if (every(step, config_.check_every)) check_consistency();
  if (every(step, config_.sample_every)) write_samples();
  if (every(step, config_.ckpt_every)) write_checkpoint();
}

int Trainer::run() {
  log::info(config_table(config_, shape_));
  log::info(str("global batch ", config_.batch_size * shape_.world_size, " (", config_.batch_size,
                " per rank x ", shape_.world_size, " ranks, backend ", comm_.backend_name(), "), ",
                batches_per_epoch_, " batches per epoch, ", total_steps_, " steps"));
  prepare_run_dir();
  if (comm_.rank() == 0 && !posix::exists(config_.out + "/samples/real.png")) write_real_samples();
  std::unique_ptr<MetricsLog> metrics;
  if (comm_.rank() == 0)
    metrics = std::make_unique<MetricsLog>(config_.out + "/metrics.jsonl", cursor_.step);
  if (config_.cache_data) dataset_.cache_in_memory();
  BatchLoader loader(dataset_, make_sampler(), cursor_.epoch, cursor_.batch,
                     /*pin=*/device_.is_cuda());
  log_clock_ = std::chrono::steady_clock::now();
  log_clock_step_ = cursor_.step;
  const int64_t first_step = cursor_.step;

  while (cursor_.step < total_steps_) {
    HostBatch host = loader.next();
    torch::Tensor real = to_training_batch(host.images, device_);
    torch::Tensor z = draw_latent();
    const StepResult result = step_->run(real, z, cursor_.step + 1);
    cursor_.step += 1;
    cursor_.epoch = host.after.epoch;
    cursor_.batch = host.after.batch;
    after_each_step(result, host.batch, host.epoch, metrics.get());
    if (after_step) after_step(cursor_.step);
    if (stop_agreed()) {
      log::warn(str("stop signal: every rank stops after step ", cursor_.step, "; saving"));
      if (last_checkpoint_step_ != cursor_.step) write_checkpoint();
      comm_.barrier();  // no rank exits before rank 0's checkpoint is complete
      log::flush();
      return static_cast<int>(ExitCode::kPreempted);
    }
  }
  if (cursor_.step > first_step || !resumed_) {
    if (last_sample_step_ != cursor_.step) write_samples();
    if (last_checkpoint_step_ != cursor_.step) write_checkpoint();
  }
  comm_.barrier();  // the run's files are complete when any rank returns
  if (comm_.rank() == 0)
    log::info(str("done: last sample ", sample_path(config_.out, cursor_.step)));
  return static_cast<int>(ExitCode::kOk);
}

}  // namespace dcgan::train
