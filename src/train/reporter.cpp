// What a run shows of itself: the run directory's files, metrics, TensorBoard, the console.
#include "dcgan/train/reporter.h"

#include <cstdio>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/log.h"
#include "dcgan/common/posix_fs.h"
#include "dcgan/common/str.h"
#include "dcgan/distributed/module_sync.h"
#include "dcgan/tensorboard/event_writer.h"
#include "dcgan/train/fd_monitor.h"
#include "dcgan/train/run_files.h"

namespace dcgan::train {
namespace {

// A grid's file (samples/<prefix>-NNNNNN.png) and TensorBoard tag.
struct GridNames {
  const char* prefix;
  const char* tag;
};

GridNames grid_names(GridKind kind) {
  return kind == GridKind::kSamples ? GridNames{"step", "samples"} : GridNames{"recon", "recon"};
}

std::string clock_text(double seconds) {
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char clock[32];
  std::snprintf(clock, sizeof clock, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return clock;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

Reporter::Reporter(const TrainConfig& config, const RunShape& shape,
                   distributed::Communicator& comm, const RunPlan& plan, Recipe& recipe)
    : config_(config), shape_(shape), comm_(comm), plan_(plan), recipe_(recipe) {}

Reporter::~Reporter() = default;

void Reporter::open(int64_t step, const torch::Tensor& reference) {
  if (comm_.rank() == 0) {
    posix::make_dirs(config_.out + "/samples");
    posix::make_dirs(config_.out + "/checkpoints");
    TrainConfig saved = config_;
    saved.resume.clear();
    write_file_atomic(config_.out + "/config.toml", config_to_toml(saved, shape_));
    if (!posix::exists(config_.out + "/samples/real.png"))
      write_grid_png(reference, config_.out + "/samples/real.png");
    metrics_ = std::make_unique<MetricsLog>(config_.out + "/metrics.jsonl", step);
    // A new event file per invocation. Its SessionLog START at the first step this run makes
    // tells TensorBoard to drop what an earlier writer left at or after it (the steps after the
    // checkpoint an interrupted run resumes from; all of an earlier fresh run's), as
    // metrics.jsonl drops its lines: no curve doubles back.
    tb_ = std::make_unique<tensorboard::EventWriter>(config_.out + "/tb");
    tb_->start_session(step + 1, tensorboard::wall_time_now());
  }
}

void Reporter::start(int64_t step) {
  first_step_ = step;
  log_clock_step_ = step;
  start_ = log_clock_ = std::chrono::steady_clock::now();
}

void Reporter::log(const StepResult& result, const StepPlace& place, FdMonitor* fd) {
  torch::Tensor stats = result.stats.to(torch::kCPU, torch::kFloat64);
  if (shape_.world_size > 1) stats = distributed::all_reduce_mean_host(comm_, stats);
  stats = stats.contiguous();
  MetricsRecord r;
  r.epoch = place.epoch;
  r.step = place.step;
  const std::vector<std::string> names = recipe_.stat_names();
  std::vector<double> values(static_cast<size_t>(stats.numel()));
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = stats[static_cast<int64_t>(i)].item<double>();
    r.values.emplace_back(names.at(i), values[i]);
  }
  const double images_per_s =
      static_cast<double>((place.step - log_clock_step_) * config_.batch_size * shape_.world_size) /
      std::max(seconds_since(log_clock_), 1e-9);
  r.values.emplace_back("images_per_s", images_per_s);
  const std::vector<NamedOptimizer> optimizers = recipe_.optimizers();
  for (const NamedOptimizer& opt : optimizers) {
    r.values.emplace_back(optimizers.size() == 1 ? std::string("lr") : "lr_" + opt.name,
                          opt.optimizer->param_groups()[0].options().get_lr());
  }
  std::string console_stats = recipe_.console_stats(values);
  progress_stats_ = console_stats;
  if (fd != nullptr) {  // a collective: every rank
    const double value = fd->measure(recipe_);
    r.values.emplace_back("fd", value);
    console_stats += str("\tFD: ", value);
  }
  log_clock_ = std::chrono::steady_clock::now();  // the FD's time is not training time
  log_clock_step_ = place.step;
  if (!metrics_) return;
  metrics_->append(r);
  if (tb_) {  // the same tags, steps and values as metrics.jsonl
    const double wall_time = tensorboard::wall_time_now();
    for (const auto& [name, value] : r.values) tb_->add_scalar(name, r.step, value, wall_time);
    tb_->flush();
  }
  log::info(console_line(place.epoch, plan_.epochs, place.batch, plan_.batches_per_epoch,
                         console_stats, images_per_s));
}

void Reporter::progress(int64_t step) {
  if (!log::progress_enabled()) return;
  const auto now = std::chrono::steady_clock::now();
  if (step != plan_.total_steps && now - last_progress_ < std::chrono::milliseconds(250)) return;
  last_progress_ = now;
  const double elapsed = seconds_since(start_);
  const double steps_per_s = static_cast<double>(step - first_step_) / std::max(elapsed, 1e-9);
  double eta = static_cast<double>(plan_.total_steps - step) / std::max(steps_per_s, 1e-9);
  if (config_.time_limit > 0) eta = std::min(eta, std::max(0.0, config_.time_limit - elapsed));
  std::string stats = progress_stats_;
  for (char& c : stats) c = c == '\t' ? ' ' : c;
  log::progress(str("[", step, "/", plan_.total_steps, "] ",
                    static_cast<int64_t>(
                        steps_per_s * static_cast<double>(config_.batch_size * shape_.world_size)),
                    " img/s  ETA ", clock_text(eta), stats.empty() ? "" : "  ", stats));
}

void Reporter::samples(int64_t step) {
  // Every rank renders (sync-BN layers are collectives); rank 0 writes, and gives TensorBoard
  // the same PNG bytes.
  for (const SampleGrid& grid : recipe_.samples()) {
    const GridNames names = grid_names(grid.kind);
    last_sample_ = config_.out + "/samples/" + numbered_name(names.prefix, step) + ".png";
    if (comm_.rank() != 0) continue;
    const PngImage png =
        write_grid_png(grid.images.to(torch::kFloat32).contiguous(), last_sample_, grid.nrow);
    if (tb_) {
      tb_->add_image(names.tag, step, png.bytes, png.width, png.height, png.channels,
                     tensorboard::wall_time_now());
      tb_->flush();
    }
  }
  last_sample_step_ = step;
}

}  // namespace dcgan::train
