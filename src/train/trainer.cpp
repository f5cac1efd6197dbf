// The training loop of one rank. The step lives in the recipe and StepRunner; the start, the
// reporting, FD and the benchmark have their own files. This file owns the loop, the sync points,
// the replica checks, checkpoints and the preemption agreement, over whatever modules the recipe
// names.
#include "dcgan/train/trainer.h"

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "dcgan/distributed/module_sync.h"
#include "dcgan/train/batch_loader.h"
#include "dcgan/train/benchmark.h"
#include "dcgan/train/device.h"
#include "dcgan/train/fd_monitor.h"
#include "dcgan/train/precision.h"
#include "dcgan/train/run_start.h"
#include "dcgan/train/step_runner.h"

namespace dcgan::train {
namespace {

constexpr int64_t kReferenceCount = 64;  // samples/real.png: an 8x8 grid

bool every(int64_t step, int64_t period) { return period > 0 && step % period == 0; }

// The two deadlines of Note [Deadlines by phase]: the long one (the start, checkpoints, FD, the
// end) and the step's, never longer.
std::chrono::seconds long_deadline(const TrainConfig& c) {
  return std::chrono::seconds(c.comm_timeout);
}
std::chrono::seconds step_deadline(const TrainConfig& c) {
  return std::chrono::seconds(std::min(c.step_timeout, c.comm_timeout));
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

RunPlan make_plan(const TrainConfig& config, int64_t batches_per_epoch,
                  const torch::Device& device) {
  RunPlan plan;
  plan.batches_per_epoch = batches_per_epoch;
  plan.total_steps = config.steps > 0 ? config.steps : config.epochs * batches_per_epoch;
  plan.epochs = (plan.total_steps + batches_per_epoch - 1) / batches_per_epoch;
  plan.sync_every = config.sync_every > 0 ? config.sync_every
                    : device.is_cuda()    ? kSyncEveryCuda
                                          : 1;
  return plan;
}

}  // namespace

Trainer::Trainer(TrainConfig config, distributed::Communicator& comm, data::ShardDataset& dataset,
                 torch::Device device, const std::atomic<int>* stop)
    : config_(std::move(config)), comm_(comm), dataset_(dataset), stop_(stop) {
  use_device(device);
  resolve_model_defaults(&config_);
  validate_config(config_);
  shape_.image_size = dataset_.image_size();
  shape_.channels = dataset_.channels();
  shape_.world_size = comm_.world_size();
  shape_.device = device.str();
  const int64_t batches_per_epoch = make_sampler().batches_per_epoch();
  if (batches_per_epoch <= 0) {
    throw DataError(str(
        config_.data, " has ", dataset_.image_count(), " images, fewer than one global batch of ",
        config_.batch_size * shape_.world_size, " HINT: lower --batch-size or use fewer ranks"));
  }
  plan_ = make_plan(config_, batches_per_epoch, device);
  reference_ = reference_images();
  apply_precision(parse_precision(config_.precision));
  runner_ = std::make_unique<StepRunner>(config_, comm_, device);
  recipe_ = make_recipe({config_, shape_, comm_, device, reference_, &runner_->timer()});
  for (const NamedModule& m : recipe_->modules())
    set_memory_format(*m.module, memory_format(config_.channels_last));
  start_run(config_, shape_, comm_, *recipe_, state_view());
  reporter_ = std::make_unique<Reporter>(config_, shape_, comm_, plan_, *recipe_);
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

BatchSource Trainer::make_batches() {
  return BatchSource(dataset_, make_sampler(), cursor_.epoch, cursor_.batch, runner_->device(),
                     config_.data_on_device);
}

TrainingState Trainer::state_view() {
  return training_state(*recipe_, &runner_->noise_generator(), &cursor_, runner_->device());
}

bool Trainer::sync_point(int64_t step) const {
  return every(step, plan_.sync_every) || every(step, config_.log_every) ||
         every(step, config_.sample_every) || every(step, config_.ckpt_every) ||
         step == plan_.total_steps;
}

void Trainer::check_consistency() {
  if (shape_.world_size == 1) return;
  runner_->wait_for_replays();  // its checksums are host reads
  for (const NamedModule& m : recipe_->modules())
    distributed::check_replicas_consistent(*m.module, m.name, comm_);
}

void Trainer::write_checkpoint() {
  const distributed::TimeoutScope long_phase(comm_, long_deadline(config_));
  check_consistency();
  if (comm_.rank() == 0) {
    const auto started = std::chrono::steady_clock::now();
    const std::string dir = save_checkpoint(config_.out, state_view(), config_, shape_);
    log::info(str("checkpoint ", dir, " (", fixed(seconds_since(started), 2), " s)"));
  }
  comm_.barrier();  // the others wait for rank 0's write here, under the long deadline
}

bool Trainer::periodic_work(const StepResult& result, const StepPlace& place, FdMonitor* fd) {
  // The replicas are bit-identical here (Note [BN statistics ride on the gradient all-reduce]).
  if (every(place.step, config_.log_every)) {
    FdMonitor* fd_now = every(place.step, config_.eval_every) ? fd : nullptr;
    if (fd_now == nullptr) {
      reporter_->log(result, place, nullptr);
    } else {  // FD: under the long deadline, closed by a barrier
      const distributed::TimeoutScope long_phase(comm_, long_deadline(config_));
      const auto started = std::chrono::steady_clock::now();
      runner_->wait_for_replays();
      reporter_->log(result, place, fd_now);
      comm_.barrier();
      log::debug(str("FD of step ", place.step, " took ", fixed(seconds_since(started), 2), " s"));
    }
  }
  if (every(place.step, config_.check_every)) check_consistency();
  if (every(place.step, config_.sample_every)) reporter_->samples(place.step);
  if (!every(place.step, config_.ckpt_every)) return false;
  write_checkpoint();
  return true;
}

Trainer::Stop Trainer::stop_agreed(std::chrono::steady_clock::time_point started) {
  int signal = stop_ != nullptr ? stop_->load() : 0;
  int out_of_time = 0;
  if (config_.time_limit > 0) {
    out_of_time = seconds_since(started) >= config_.time_limit ? 1 : 0;
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

int Trainer::run() {
  log::info(config_table(config_, shape_));
  if (config_.cache_data) dataset_.cache_in_memory();
  if (config_.benchmark > 0) {
    BatchSource batches = make_batches();
    return run_benchmark({config_, shape_, comm_, *recipe_, *runner_, batches, cursor_, stop_});
  }
  log::info(str("global batch ", config_.batch_size * shape_.world_size, " (", config_.batch_size,
                " per rank x ", shape_.world_size, " ranks, backend ", comm_.backend_name(), "), ",
                plan_.batches_per_epoch, " batches per epoch, ", plan_.total_steps, " steps"));
  reporter_->open(cursor_.step, reference_);
  std::unique_ptr<FdMonitor> fd;  // --eval-every: a collective set-up, once per invocation
  if (config_.eval_every > 0)
    fd = std::make_unique<FdMonitor>(config_, dataset_, comm_, runner_->device());
  BatchSource batches = make_batches();  // the loader thread owns the data set from here
  const bool resumed = !config_.resume.empty();
  const int64_t first_step = cursor_.step;
  int64_t saved_step = resumed ? cursor_.step : -1;  // the last checkpoint's step
  reporter_->start(first_step);
  const auto started = std::chrono::steady_clock::now();  // --time-limit counts from here

  // ======================== The training loop ========================
  while (cursor_.step < plan_.total_steps) {
    HostBatch host;
    const StepResult result = runner_->run(*recipe_, batches, &host, &cursor_);
    // The host reads of the device-side flags come at sync points, the same steps on every rank:
    // a non-finite update fails here (before any checkpoint of this step), and the stop signal
    // is agreed on here.
    const bool sync = sync_point(cursor_.step);
    if (sync) {
      runner_->wait_for_replays();
      recipe_->report(cursor_.step);
    }
    if (periodic_work(result, {cursor_.step, host.epoch, host.batch}, fd.get()))
      saved_step = cursor_.step;
    reporter_->progress(cursor_.step);
    if (after_step_) after_step_(cursor_.step);
    const Stop stop = sync ? stop_agreed(started) : Stop::kNone;
    // Every rank is past its start from the first sync point on (Note [Deadlines by phase]).
    if (sync) comm_.set_timeout(step_deadline(config_));
    if (stop == Stop::kSignal) {
      comm_.set_timeout(long_deadline(config_));
      log::warn(str("stop signal: every rank stops after step ", cursor_.step, "; saving"));
      if (saved_step != cursor_.step) write_checkpoint();
      comm_.barrier();  // no rank exits before rank 0's checkpoint is complete
      log::flush();
      return static_cast<int>(ExitCode::kPreempted);
    }
    if (stop == Stop::kTimeLimit) {  // a finished run: samples, checkpoint, exit 0
      log::info(str("--time-limit ", config_.time_limit, " s reached: every rank stops after step ",
                    cursor_.step, " of ", plan_.total_steps,
                    " (--resume continues towards the rest)"));
      break;
    }
  }
  // ===================================================================
  comm_.set_timeout(long_deadline(config_));  // the end: samples, the last checkpoint

  if (cursor_.step > first_step || !resumed) {
    if (reporter_->last_sample_step() != cursor_.step) reporter_->samples(cursor_.step);
    if (saved_step != cursor_.step) write_checkpoint();
  }
  comm_.barrier();  // the run's files are complete when any rank returns
  if (comm_.rank() == 0) {
    const std::string& last = reporter_->last_sample();
    log::info(last.empty() ? str("done: the run was already at step ", cursor_.step)
                           : str("done: last sample ", last));
  }
  return static_cast<int>(ExitCode::kOk);
}

}  // namespace dcgan::train
