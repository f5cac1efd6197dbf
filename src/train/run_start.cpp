// A run's start: resume (rank 0 chooses, every rank loads the same step), import, or the seeded
// init; then rank 0's state to every rank.
#include "dcgan/train/run_start.h"

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/posix_fs.h"
#include "dcgan/common/str.h"
#include "dcgan/distributed/module_sync.h"
#include "dcgan/interop/state_dict.h"
#include "dcgan/models/registry.h"
#include "dcgan/train/precision.h"

namespace dcgan::train {
namespace {

// The --resume directory, the same on every rank: rank 0 verifies and chooses (falling back past
// damaged checkpoints); the others load the step it chose.
std::string choose_checkpoint(const TrainConfig& config, distributed::Communicator& comm) {
  const std::string requested = config.resume == "latest" ? config.out : config.resume;
  std::string dir;
  int64_t step = 0;
  if (comm.rank() == 0) {
    dir = choose_resume_checkpoint(requested);
    step = read_checkpoint_info(dir).cursor.step;
  }
  if (comm.world_size() == 1) return dir;
  torch::Tensor chosen = torch::tensor({step}, torch::kInt64);
  comm.broadcast(chosen, 0);
  return comm.rank() == 0 ? dir : checkpoint_dir_at_step(requested, chosen.item<int64_t>());
}

// Every rank read the checkpoint itself; all must have found the same one.
void check_same_resume_step(distributed::Communicator& comm, int64_t step) {
  if (comm.world_size() == 1) return;
  torch::Tensor steps = torch::tensor({step, -step}, torch::kInt64);
  comm.all_reduce(steps, distributed::ReduceOp::kMax);
  const int64_t highest = steps[0].item<int64_t>();
  const int64_t lowest = -steps[1].item<int64_t>();
  if (highest != lowest) {
    throw Error(str("ranks resumed from different checkpoints (steps ", lowest, " to ", highest,
                    ") HINT: the run directory must be on a file system that every rank sees"));
  }
}

// Resuming on another world size continues the same computation when the global batch stays and
// each rank's BatchNorm sees the same images: the per-rank batch stays, or --sync-bn makes the
// statistics global both in the saved run and now.
void warn_if_not_a_continuation(const CheckpointInfo& info, const TrainConfig& config,
                                const RunShape& shape) {
  const int64_t saved_rank_batch = info.config.batch_size;
  const int64_t saved_global = saved_rank_batch * info.shape.world_size;
  const int64_t global = config.batch_size * shape.world_size;
  const std::string was = str(info.shape.world_size, " rank(s) x ", saved_rank_batch);
  const std::string now = str(shape.world_size, " rank(s) x ", config.batch_size);
  if (saved_global != global) {
    log::warn(str("resuming a checkpoint of global batch ", saved_global, " (", was,
                  ") with global batch ", global, " (", now,
                  "): the run is not a continuation of the same computation"));
  } else if (saved_rank_batch != config.batch_size && !(info.config.sync_bn && config.sync_bn)) {
    log::warn(str("resuming a checkpoint of ", was, " on ", now, " without --sync-bn in both: the",
                  " global batch is the same, but BatchNorm's statistics come from each rank's ",
                  "slice, so the run is close to, not the same as, its continuation"));
  }
}

void resume(const TrainConfig& config, const RunShape& shape, distributed::Communicator& comm,
            Recipe& recipe, const TrainingState& state) {
  const std::string dir = choose_checkpoint(config, comm);
  const CheckpointInfo info = restore_checkpoint(dir, state, config, shape);
  for (const NamedOptimizer& opt : recipe.optimizers()) {  // the options given now win
    auto& group =
        static_cast<torch::optim::AdamOptions&>(opt.optimizer->param_groups()[0].options());
    group.lr(config.lr).betas({config.beta1, config.beta2});
  }
  warn_if_not_a_continuation(info, config, shape);
  // A checkpoint's tensors come in the layout they were saved in.
  for (const NamedModule& m : recipe.modules())
    set_memory_format(*m.module, memory_format(config.channels_last));
  const TrainCursor& cursor = *state.cursor;
  check_same_resume_step(comm, cursor.step);
  log::info(str("resumed from ", dir, " at step ", cursor.step, " (epoch ", cursor.epoch,
                ", batch ", cursor.batch, ")"));
  if (!config.init_from.empty())
    log::info("--init-from is not used on --resume: the checkpoint holds the weights");
}

// --init-from: every module from its state_dict file. Every rank reads the files itself, so a bad
// one fails every rank alike. An EMA file is optional: without one the EMA starts at the imported
// weights.
void import_modules(const TrainConfig& config, Recipe& recipe) {
  std::string expected;
  for (const NamedModule& m : recipe.modules()) {
    if (!models::is_ema_module(m.name))
      expected += str(expected.empty() ? "" : ", ", m.name, ".pt");
  }
  bool ema_loaded = false;
  for (const NamedModule& m : recipe.modules()) {
    const std::string file = config.init_from + "/" + m.name + ".pt";
    if (models::is_ema_module(m.name) && !posix::exists(file)) continue;
    if (!posix::exists(file)) {
      throw UsageError(str("--init-from ", file, " does not exist HINT: a ", config.model,
                           " run starts from ", expected,
                           " (torch.save(model.state_dict()) or dcgan-export writes them)"));
    }
    interop::copy_state_dict(interop::load_state_dict(file), *m.module, "--init-from " + file);
    ema_loaded |= models::is_ema_module(m.name);
  }
  if (!ema_loaded) recipe.reset_ema();
  log::info(
      str("initialised ", expected, ema_loaded ? " and the EMA" : "", " from ", config.init_from));
}

}  // namespace

void start_run(const TrainConfig& config, const RunShape& shape, distributed::Communicator& comm,
               Recipe& recipe, const TrainingState& state) {
  if (!config.resume.empty()) {
    resume(config, shape, comm, recipe, state);
  } else if (!config.init_from.empty()) {
    import_modules(config, recipe);
  }
  if (shape.world_size > 1) {  // every rank starts from rank 0's modules and tensors
    for (const NamedModule& m : recipe.modules()) distributed::broadcast_module(*m.module, comm, 0);
    for (const NamedTensor& t : recipe.tensors()) comm.broadcast(*t.tensor, 0);
  }
}

}  // namespace dcgan::train
