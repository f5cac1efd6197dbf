// Save and restore of a run's training state, side by side: the modules, the optimizers, the
// named tensors, the RNG states and the cursor. Each restore step undoes one save step.
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <map>

#include "archive.h"
#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/sha256.h"
#include "dcgan/common/str.h"
#include "dcgan/models/registry.h"
#include "dcgan/train/checkpoint.h"
#include "dcgan/train/run_files.h"
#include "format.h"
#include "store.h"

namespace dcgan::train {
namespace {

using checkpoint::kConfigFile;
using checkpoint::kInfoFile;
using checkpoint::kStateFile;

// ---- save ----

// state.pt: the named tensors, then the RNG states (rng_cuda only on a GPU).
std::string state_bytes(const TrainingState& state) {
  torch::serialize::OutputArchive archive;
  for (const auto& t : state.tensors) archive.write(t.name, t.tensor->cpu());
  archive.write("rng_cpu", at::detail::getDefaultCPUGenerator().get_state());
  archive.write("rng_z", state.z_generator->get_state());
  if (state.device.is_cuda())
    archive.write("rng_cuda", at::globalContext().defaultGenerator(state.device).get_state());
  return checkpoint::archive_bytes(archive);
}

void write_checkpoint_files(const std::string& dir, const TrainingState& state,
                            const TrainConfig& config, const RunShape& shape) {
  // The names a recipe gives become files and keys: refuse what a reader could not tell apart.
  const std::string problem = checkpoint::entries_problem(checkpoint::entries_of(state));
  if (!problem.empty()) throw Error(str("checkpoint entries: ", problem));
  std::map<std::string, checkpoint::WrittenFile> files;
  auto write = [&](const std::string& name, const std::string& bytes) {
    checkpoint::write_durable(dir + "/" + name, bytes);
    files[name] = {sha256_hex(bytes), bytes.size()};
  };
  for (const auto& m : state.modules)
    write(checkpoint::module_file(m.name), checkpoint::serialized_bytes(m.module));
  for (const auto& o : state.optimizers)
    write(checkpoint::optimizer_file(o.name), checkpoint::serialized_bytes(*o.optimizer));
  write(kStateFile, state_bytes(state));
  write(kConfigFile, config_to_toml(config, shape));
  // Last: checkpoint.toml marks the directory complete.
  checkpoint::write_durable(dir + "/" + kInfoFile, checkpoint::info_toml(state, shape, files));
  fsync_path(dir);
}

// ---- restore ----

// The checkpoint must be a run of the same model and nets: UsageError naming what differs.
void require_same_model(const CheckpointInfo& info, const TrainingState& state,
                        const TrainConfig& config, const RunShape& shape) {
  if (info.model != state.model) {
    throw UsageError(str("checkpoint ", info.dir, " is a ", info.model, " run, but --model is ",
                         state.model,
                         " HINT: resume with the run's own options (its config.toml)"));
  }
  const std::pair<const char*, std::pair<int64_t, int64_t>> fields[] = {
      {"nz", {info.config.nz, config.nz}},
      {"ngf", {info.config.ngf, config.ngf}},
      {"ndf", {info.config.ndf, config.ndf}},
      {"image size", {info.shape.image_size, shape.image_size}},
      {"channels", {info.shape.channels, shape.channels}}};
  for (const auto& [field, values] : fields) {
    if (values.first != values.second) {
      throw UsageError(str("checkpoint ", info.dir, " does not match the configuration: ", field,
                           " is ", values.first, " in the checkpoint but ", values.second,
                           " now HINT: resume with the run's own options (its config.toml)"));
    }
  }
}

void require_entry(const CheckpointInfo& info, const std::vector<std::string>& saved,
                   const std::string& name, const char* kind) {
  if (std::find(saved.begin(), saved.end(), name) != saved.end()) return;
  throw UsageError(str("checkpoint ", info.dir, " has no ", kind, " '", name, "'",
                       models::is_ema_module(name)
                           ? " HINT: it was trained without --ema-halflife-kimg; resume "
                             "without it, or start a fresh run with --init-from an export"
                           : ""));
}

template <class Named>
void warn_unused(const CheckpointInfo& info, const std::vector<std::string>& saved,
                 const std::vector<Named>& known, const char* kind) {
  for (const std::string& name : saved) {
    const bool used = std::any_of(known.begin(), known.end(),
                                  [&](const auto& item) { return item.name == name; });
    if (!used)
      log::warn(
          str("checkpoint ", info.dir, ": ", kind, " '", name, "' is not used by this build"));
  }
}

void restore_modules(const CheckpointInfo& info, const TrainingState& state) {
  for (const auto& m : state.modules) {
    require_entry(info, info.modules, m.name, "module");
    load_module_checked(info.dir + "/" + checkpoint::module_file(m.name), *m.module, m.name);
  }
}

void restore_optimizers(const CheckpointInfo& info, const TrainingState& state) {
  for (const auto& o : state.optimizers) {
    require_entry(info, info.optimizers, o.name, "optimizer");
    const auto& first = o.optimizer->param_groups().at(0).params();
    const torch::Device device = first.empty() ? torch::Device(torch::kCPU) : first[0].device();
    torch::load(*o.optimizer, info.dir + "/" + checkpoint::optimizer_file(o.name), device);
  }
}

// Each read needs an undefined tensor: reading into a defined one would set_() its storage.
torch::Tensor read_tensor(torch::serialize::InputArchive& archive, const std::string& key) {
  torch::Tensor tensor;
  archive.read(key, tensor);
  return tensor;
}

void restore_tensors(const CheckpointInfo& info, const TrainingState& state,
                     torch::serialize::InputArchive& archive) {
  for (const auto& t : state.tensors) {
    require_entry(info, info.tensors, t.name, "tensor");
    const torch::Tensor saved = read_tensor(archive, t.name);
    if (t.tensor->defined())
      checkpoint::check_shape(str("checkpoint ", info.dir), t.name, saved, *t.tensor);
    *t.tensor = saved.to(t.tensor->defined() ? t.tensor->device() : torch::Device(torch::kCPU));
  }
}

void restore_rngs(const CheckpointInfo& info, const TrainingState& state,
                  torch::serialize::InputArchive& archive) {
  at::Generator cpu_rng = at::detail::getDefaultCPUGenerator();  // a handle on the default
  cpu_rng.set_state(read_tensor(archive, "rng_cpu"));
  if (!restore_noise_state(*state.z_generator, read_tensor(archive, "rng_z"))) {
    log::warn(dcgan::str(
        "checkpoint ", info.dir, ": its latent-noise RNG state is not one for ",
        state.z_generator->device(), " (it was written where the noise came from ",
        state.z_generator->device().is_cuda() ? "the host" : "a GPU",
        "), so the noise stream changes from here on; it is seeded from that state, the same "
        "on every resume from this checkpoint"));
  }
  torch::Tensor cuda_state;
  if (state.device.is_cuda() && archive.try_read("rng_cuda", cuda_state)) {
    at::Generator cuda_rng = at::globalContext().defaultGenerator(state.device);  // a handle
    cuda_rng.set_state(cuda_state);
  }
}

}  // namespace

TrainingState training_state(Recipe& recipe, at::Generator* z_generator, TrainCursor* cursor,
                             torch::Device device) {
  TrainingState state;
  state.model = recipe.model();
  state.modules = recipe.modules();
  state.optimizers = recipe.optimizers();
  state.tensors = recipe.tensors();
  state.z_generator = z_generator;
  state.cursor = cursor;
  state.device = device;
  return state;
}

std::string save_checkpoint(const std::string& run_dir, const TrainingState& state,
                            const TrainConfig& config, const RunShape& shape) {
  return checkpoint::publish(
      run_dir + "/checkpoints", step_name(state.cursor->step), config.keep,
      [&](const std::string& dir) { write_checkpoint_files(dir, state, config, shape); });
}

CheckpointInfo restore_checkpoint(const std::string& ckpt_dir, const TrainingState& state,
                                  const TrainConfig& config, const RunShape& shape) {
  CheckpointInfo info = read_checkpoint_info(ckpt_dir);
  require_same_model(info, state, config, shape);
  warn_unused(info, info.modules, state.modules, "module");
  warn_unused(info, info.optimizers, state.optimizers, "optimizer");
  warn_unused(info, info.tensors, state.tensors, "tensor");
  restore_modules(info, state);
  restore_optimizers(info, state);
  auto archive = checkpoint::open_archive(ckpt_dir + "/" + kStateFile);
  restore_tensors(info, state, archive);
  restore_rngs(info, state, archive);
  *state.cursor = info.cursor;
  return info;
}

bool restore_noise_state(at::Generator& generator, const torch::Tensor& saved) {
  if (saved.numel() == generator.get_state().numel()) {
    generator.set_state(saved);
    return true;
  }
  // FNV-1a over the saved bytes: deterministic, and different checkpoints seed differently.
  const torch::Tensor bytes = saved.contiguous().to(torch::kCPU);
  const auto* p = static_cast<const unsigned char*>(bytes.data_ptr());
  uint64_t hash = 1469598103934665603ULL;
  for (size_t i = 0; i < bytes.nbytes(); ++i) hash = (hash ^ p[i]) * 1099511628211ULL;
  generator.set_current_seed(hash);
  return false;
}

}  // namespace dcgan::train
