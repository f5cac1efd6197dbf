// Checkpoint save/restore. Every file is written into a temp directory and fsynced; the directory
// is renamed into place and only then does checkpoints/latest move, so a crash or a full disk at
// any point leaves the previous checkpoint and pointer intact.
#include "dcgan/train/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iomanip>
#include <map>
#include <sstream>

#include <ATen/CPUGeneratorImpl.h>
#include <toml++/toml.h>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/sha256.h"
#include "dcgan/common/str.h"
#include "dcgan/train/fingerprint.h"
#include "dcgan/train/posix_fs.h"
#include "dcgan/train/run_files.h"

namespace dcgan::train {
namespace {

constexpr const char* kInfoFile = "checkpoint.toml";
constexpr const char* kConfigFile = "config.toml";

// Writes and fsyncs one file; throws Error naming it (ENOSPC gets a remedy).
void write_durable(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(str("cannot create ", path, ": ", std::strerror(errno)));
  size_t done = 0;
  int err = 0;
  while (done < bytes.size() && err == 0) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno != EINTR) err = errno;
    if (n > 0) done += static_cast<size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    const bool full = err == ENOSPC || err == EDQUOT || err == EFBIG;
    throw Error(str(
        "cannot write checkpoint file ", path, ": ", std::strerror(err),
        full ? " HINT: free disk space or lower --keep; the previous checkpoint is intact" : ""));
  }
}

template <class Saveable>
std::string serialize_to_bytes(const Saveable& value) {
  std::ostringstream out;
  torch::save(value, out);
  return out.str();
}

std::string archive_bytes(torch::serialize::OutputArchive& archive) {
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

torch::serialize::InputArchive open_archive(const std::string& path) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, torch::Device(torch::kCPU));
  } catch (const c10::Error& e) {
    throw DataError(str("cannot read checkpoint file ", path, ": ", e.what_without_backtrace()));
  }
  return archive;
}

// Loads module tensors by name from `archive` (the layout torch::save(module) writes: tensors by
// local name, children as nested archives), checking each shape before copying in place.
void load_tensors(torch::serialize::InputArchive& archive, torch::nn::Module& module,
                  const std::string& prefix, const std::string& what) {
  torch::NoGradGuard no_grad;
  auto load_one = [&](const std::string& name, torch::Tensor& target, bool is_buffer) {
    torch::Tensor saved;
    if (!archive.try_read(name, saved, is_buffer)) {
      throw UsageError(str(what, ": checkpoint has no tensor '", prefix, name, "'"));
    }
    if (saved.sizes() != target.sizes()) {
      throw UsageError(dcgan::str(what, ": tensor '", prefix, name, "' has shape ", saved.sizes(),
                                  " in the checkpoint but ", target.sizes(), " in the model"));
    }
    target.copy_(saved);
  };
  for (auto& item : module.named_parameters(/*recurse=*/false))
    load_one(item.key(), item.value(), false);
  for (auto& item : module.named_buffers(/*recurse=*/false))
    load_one(item.key(), item.value(), true);
  for (auto& child : module.named_children()) {
    torch::serialize::InputArchive child_archive;
    if (!archive.try_read(child.key(), child_archive)) {
      throw UsageError(str(what, ": checkpoint has no module '", prefix, child.key(), "'"));
    }
    load_tensors(child_archive, *child.value(), prefix + child.key() + ".", what);
  }
}

// checkpoint.toml through toml++; a syntax error is a DataError naming the file and line.
toml::table read_info_table(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return toml::parse(std::string_view(text), std::string_view(path));
  } catch (const toml::parse_error& e) {
    throw DataError(str(path, ":", e.source().begin.line, ": ", e.description()));
  }
}

int64_t int_value(const toml::table& table, const std::string& key, const std::string& path) {
  if (const auto v = table[key].value_exact<int64_t>()) return *v;
  throw DataError(str(path, ": missing integer key '", key, "'"));
}

constexpr const char* kSelfChecksumKey = "info_sha256";

// What a checkpoint holds, by entry name; format 1 held the DCGAN's entries, unlisted.
struct Entries {
  std::string model;
  std::vector<std::string> modules;
  std::vector<std::string> optimizers;
  std::vector<std::string> tensors;
};

Entries format1_entries() {
  return {"dcgan", {"generator", "discriminator"}, {"g", "d"}, {"fixed_noise"}};
}

std::string module_file(const std::string& name) { return name + ".pt"; }
std::string optimizer_stem(const std::string& name) { return "optim_" + name; }
std::string optimizer_file(const std::string& name) { return optimizer_stem(name) + ".pt"; }

// The files of a checkpoint besides checkpoint.toml, each with the stem of its
// bytes_/sha256_/fingerprint_ keys: the modules, the optimizers, state.pt and config.toml.
std::vector<std::pair<std::string, std::string>> checked_files(const Entries& entries) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const std::string& m : entries.modules) files.emplace_back(m, module_file(m));
  for (const std::string& o : entries.optimizers)
    files.emplace_back(optimizer_stem(o), optimizer_file(o));
  files.emplace_back("state", "state.pt");
  files.emplace_back("config", kConfigFile);
  return files;
}

// An entry name becomes a file name and a TOML key: lower-case letters, digits and '_' only.
bool valid_entry_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
  });
}

void check_entry_name(const std::string& name, const std::string& path) {
  if (!valid_entry_name(name)) throw DataError(str(path, ": bad entry name '", name, "'"));
}

// The first of two entries whose files (and so their bytes_/sha256_ keys) would be the same
// (a module named state, config or optim_<optimizer>, a name listed twice), or "".
std::string colliding_stem(const std::vector<std::pair<std::string, std::string>>& files) {
  for (size_t i = 0; i < files.size(); ++i) {
    for (size_t j = i + 1; j < files.size(); ++j) {
      if (files[i].first == files[j].first) return files[i].first;
    }
  }
  return "";
}

std::vector<std::string> string_list(const toml::table& table, const std::string& key,
                                     const std::string& path) {
  const toml::array* array = table[key].as_array();
  if (array == nullptr) throw DataError(str(path, ": missing list '", key, "'"));
  std::vector<std::string> out;
  for (const toml::node& node : *array) {
    const auto value = node.value_exact<std::string>();
    if (!value) throw DataError(str(path, ": '", key, "' must list strings"));
    check_entry_name(*value, path);
    out.push_back(*value);
  }
  return out;
}

int format_version_of(const toml::table& table, const std::string& path) {
  const auto version = table["format_version"].value_exact<int64_t>();
  if (!version) throw DataError(str(path, ": missing integer key 'format_version'"));
  if (*version < kOldestCheckpointFormatVersion || *version > kCheckpointFormatVersion) {
    throw UsageError(str(path, ": checkpoint format ", *version,
                         " is not supported (this build reads formats ",
                         kOldestCheckpointFormatVersion, " to ", kCheckpointFormatVersion, ")"));
  }
  return static_cast<int>(*version);
}

Entries entries_of(const toml::table& table, const std::string& path) {
  if (format_version_of(table, path) == 1) return format1_entries();
  Entries entries;
  const auto model = table["model"].value_exact<std::string>();
  if (!model) throw DataError(str(path, ": missing string key 'model'"));
  entries.model = *model;
  entries.modules = string_list(table, "modules", path);
  entries.optimizers = string_list(table, "optimizers", path);
  entries.tensors = string_list(table, "tensors", path);
  const std::string clash = colliding_stem(checked_files(entries));
  if (!clash.empty()) throw DataError(str(path, ": two entries share the file stem '", clash, "'"));
  return entries;
}

template <class Named>
toml::array names_of(const std::vector<Named>& items) {
  toml::array names;
  for (const auto& item : items) names.push_back(item.name);
  return names;
}

Entries entries_of(const TrainingState& state) {
  Entries entries{state.model, {}, {}, {}};
  for (const auto& m : state.modules) entries.modules.push_back(m.name);
  for (const auto& o : state.optimizers) entries.optimizers.push_back(o.name);
  for (const auto& t : state.tensors) entries.tensors.push_back(t.name);
  return entries;
}

struct WrittenFile {
  std::string sha256;
  size_t bytes = 0;
};

std::string info_toml(const TrainingState& state, const RunShape& shape,
                      const std::map<std::string, WrittenFile>& files) {
  const TrainCursor& c = *state.cursor;
  toml::table info{{"format_version", kCheckpointFormatVersion},
                   {"model", state.model},
                   {"step", c.step},
                   {"epoch", c.epoch},
                   {"batch", c.batch},
                   {"world_size", shape.world_size},
                   {"image_size", shape.image_size},
                   {"channels", shape.channels},
                   {"modules", names_of(state.modules)},
                   {"optimizers", names_of(state.optimizers)},
                   {"tensors", names_of(state.tensors)}};
  for (const auto& m : state.modules)
    info.insert(str("fingerprint_", m.name), module_fingerprint(*m.module));
  for (const auto& o : state.optimizers)
    info.insert(str("fingerprint_", optimizer_stem(o.name)), optimizer_fingerprint(*o.optimizer));
  for (const auto& [stem, file] : checked_files(entries_of(state))) {
    const WrittenFile& written = files.at(file);
    info.insert(str("bytes_", stem), static_cast<int64_t>(written.bytes));
    info.insert(str("sha256_", stem), written.sha256);
  }
  std::ostringstream out;
  out << "# dcgan-train checkpoint. fingerprint_*: the hash of every tensor (equal = bit-identical "
         "state); bytes_*, sha256_*: each file, checked before a resume or a sample\n"
      << info << "\n";
  const std::string text = out.str();
  // Last line: the checksum of every line above it, so a damaged checkpoint.toml is caught too.
  return text + kSelfChecksumKey + " = \"" + sha256_hex(text) + "\"\n";
}

void write_checkpoint_files(const std::string& dir, const TrainingState& state,
                            const TrainConfig& config, const RunShape& shape) {
  // The names a recipe gives become files and keys: refuse what a reader could not tell apart.
  const Entries entries = entries_of(state);
  for (const auto* names : {&entries.modules, &entries.optimizers, &entries.tensors}) {
    for (const std::string& name : *names) {
      if (!valid_entry_name(name))
        throw Error(str("checkpoint entry '", name, "' is not a valid name"));
    }
  }
  const std::string clash = colliding_stem(checked_files(entries));
  if (!clash.empty()) throw Error(str("checkpoint entries share the file stem '", clash, "'"));
  std::map<std::string, WrittenFile> files;
  auto write = [&](const std::string& name, const std::string& bytes) {
    write_durable(dir + "/" + name, bytes);
    files[name] = {sha256_hex(bytes), bytes.size()};
  };
  for (const auto& m : state.modules) write(module_file(m.name), serialize_to_bytes(m.module));
  for (const auto& o : state.optimizers)
    write(optimizer_file(o.name), serialize_to_bytes(*o.optimizer));
  torch::serialize::OutputArchive archive;
  for (const auto& t : state.tensors) archive.write(t.name, t.tensor->cpu());
  archive.write("rng_cpu", at::detail::getDefaultCPUGenerator().get_state());
  archive.write("rng_z", state.z_generator->get_state());
  if (state.device.is_cuda())
    archive.write("rng_cuda", at::globalContext().defaultGenerator(state.device).get_state());
  write("state.pt", archive_bytes(archive));
  write(kConfigFile, config_to_toml(config, shape));
  write_durable(dir + "/" + kInfoFile, info_toml(state, shape, files));  // last: marks it complete
  fsync_path(dir);
}

// The step of a `step-NNNNNN` name, or -1 for anything else (step-000400.damaged included).
int64_t step_of_dir_name(const std::string& name) {
  if (name.size() < 6 || name.rfind("step-", 0) != 0) return -1;
  int64_t step = 0;
  for (size_t i = 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

// The step directories under `root`, oldest first.
std::vector<std::pair<int64_t, std::string>> step_dirs(const std::string& root) {
  std::vector<std::pair<int64_t, std::string>> steps;
  for (const std::string& name : posix::list_dir(root)) {
    const int64_t step = step_of_dir_name(name);
    if (step >= 0 && posix::is_directory(root + "/" + name)) steps.emplace_back(step, name);
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

std::string basename_of(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A step directory (named step-NNNNNN, or holding a checkpoint.toml), not a run or checkpoints/.
bool is_step_dir(const std::string& path) {
  return posix::exists(path + "/" + kInfoFile) || step_of_dir_name(basename_of(path)) >= 0;
}

// The step directory name a checkpoints/latest pointer holds: the file's one line, as this
// trainer writes it, or the target of a symbolic link (latest -> step-000400, as a user or a
// script may make). A pointer that names no entry of checkpoints/ (empty, a path, "." or "..")
// is ignored with a warning, and the newest intact checkpoint is used instead.
std::string read_pointer(const std::string& pointer) {
  std::string name;
  struct stat st {};
  if (::lstat(pointer.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    std::vector<char> target(4096);
    const ssize_t n = ::readlink(pointer.c_str(), target.data(), target.size() - 1);
    if (n > 0) name.assign(target.data(), static_cast<size_t>(n));
    while (name.size() > 1 && name.back() == '/') name.pop_back();
    name = basename_of(name);
  } else {
    name = read_file(pointer);
    name.erase(name.find_last_not_of(" \n\r\t") + 1);
  }
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    log::warn(str(pointer, " holds '", name, "', not the name of a step directory; ignoring it"));
    return "";
  }
  return name;
}

// The checkpoints/ directory of a run directory, or `path` itself when it is one.
std::string checkpoints_root(const std::string& path) {
  return posix::is_directory(path + "/checkpoints") || !posix::exists(path + "/latest")
             ? path + "/checkpoints"
             : path;
}

// Keeps the newest `keep` step directories (never `current`).
void prune(const std::string& root, int64_t keep, const std::string& current) {
  const auto steps = step_dirs(root);
  for (size_t i = 0; i + static_cast<size_t>(keep) < steps.size(); ++i) {
    if (steps[i].second != current) posix::remove_tree(root + "/" + steps[i].second);
  }
}

}  // namespace

models::DcganOptions model_options(const TrainConfig& config, const RunShape& shape) {
  models::DcganOptions options;
  options.nz = config.nz;
  options.ngf = config.ngf;
  options.ndf = config.ndf;
  options.channels = shape.channels;
  options.image_size = shape.image_size;
  return options;
}

models::DcganOptions CheckpointInfo::model_options() const {
  return train::model_options(config, shape);
}

std::string resolve_checkpoint_dir(const std::string& path) {
  if (posix::exists(path + "/" + kInfoFile)) return path;
  for (const std::string& root : {path, path + "/checkpoints"}) {
    const std::string pointer = root + "/latest";
    if (!posix::exists(pointer)) continue;
    const std::string dir = root + "/" + read_pointer(pointer);
    if (!posix::exists(dir + "/" + kInfoFile)) {
      throw DataError(str(pointer, " points at ", dir, ", which is not a complete checkpoint"));
    }
    return dir;
  }
  throw UsageError(
      str("no checkpoint at ", path,
          " HINT: pass a run directory with checkpoints/latest or a step-NNNNNN directory"));
}

CheckpointInfo read_checkpoint_info(const std::string& ckpt_dir) {
  CheckpointInfo info;
  info.dir = ckpt_dir;
  const std::string info_path = ckpt_dir + "/" + kInfoFile;
  const toml::table values = read_info_table(info_path);
  info.format_version = format_version_of(values, info_path);
  Entries entries = entries_of(values, info_path);
  info.model = std::move(entries.model);
  info.modules = std::move(entries.modules);
  info.optimizers = std::move(entries.optimizers);
  info.tensors = std::move(entries.tensors);
  info.cursor.step = int_value(values, "step", info_path);
  info.cursor.epoch = int_value(values, "epoch", info_path);
  info.cursor.batch = int_value(values, "batch", info_path);
  const std::string config_path = ckpt_dir + "/" + kConfigFile;
  config_from_toml(read_file(config_path), config_path, &info.config, &info.shape);
  info.shape.world_size = int_value(values, "world_size", info_path);
  info.shape.image_size = int_value(values, "image_size", info_path);
  info.shape.channels = int_value(values, "channels", info_path);
  return info;
}

CheckpointCheck verify_checkpoint(const std::string& ckpt_dir) {
  const std::string info_path = ckpt_dir + "/" + kInfoFile;
  auto damaged = [](std::string problem) {
    return CheckpointCheck{CheckpointCheck::kDamaged, std::move(problem)};
  };
  if (!posix::exists(info_path)) return damaged(str(info_path, " is missing"));
  std::string text;
  try {
    text = read_file(info_path);
  } catch (const Error& e) {
    return damaged(e.what());
  }
  const std::string self_key = str("\n", kSelfChecksumKey, " = \"");
  const size_t self_at = text.rfind(self_key);
  if (self_at == std::string::npos) {
    // Written before checksums existed (or cut short): loadable, but nothing to check against.
    // Only format 1 was ever written without them.
    if (text.find("\nsha256_") != std::string::npos)
      return damaged(str(info_path, " is truncated"));
    if (text.find("\nformat_version = 1\n") == std::string::npos &&
        text.rfind("format_version = 1\n", 0) != 0) {
      return damaged(str(info_path, " has no checksums, which every format-2 checkpoint has"));
    }
    return {CheckpointCheck::kUnverified,
            str(ckpt_dir, " has no checksums (written by an older dcgan-train)")};
  }
  const std::string recorded = text.substr(self_at + self_key.size(), 64);
  if (sha256_hex(std::string_view(text).substr(0, self_at + 1)) != recorded) {
    return damaged(str(info_path, " does not match its own checksum (damaged)"));
  }
  toml::table values;
  Entries entries;
  try {
    values = read_info_table(info_path);
    entries = entries_of(values, info_path);
  } catch (const Error& e) {
    return damaged(e.what());
  }
  for (const auto& [stem, file] : checked_files(entries)) {
    const std::string path = ckpt_dir + "/" + file;
    const auto size = values[str("bytes_", stem)].value_exact<int64_t>();
    const auto sha = values[str("sha256_", stem)].value_exact<std::string>();
    if (!size || !sha) {
      return damaged(str(info_path, " records no checksum of ", file));
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return damaged(str(path, " is missing"));
    if (static_cast<int64_t>(st.st_size) != *size) {
      return damaged(str(path, " is ", st.st_size, " bytes, but ", *size,
                         " were written (truncated or overwritten)"));
    }
    std::string actual;
    try {
      actual = sha256_file(path);
    } catch (const Error& e) {
      return damaged(e.what());
    }
    if (actual != *sha) return damaged(str(path, " does not match its sha256 (damaged bytes)"));
  }
  return {CheckpointCheck::kIntact, ""};
}

void require_intact(const std::string& ckpt_dir) {
  const CheckpointCheck check = verify_checkpoint(ckpt_dir);
  if (check.status == CheckpointCheck::kDamaged) {
    throw DataError(
        str("damaged checkpoint: ", check.problem, " HINT: use another step directory of the run"));
  }
  if (check.status == CheckpointCheck::kUnverified)
    log::info(str(check.problem, "; it could not be verified"));
}

std::string choose_resume_checkpoint(const std::string& path) {
  if (is_step_dir(path)) {
    require_intact(path);  // a step directory named by the user: that one or nothing
    return path;
  }
  const std::string root = checkpoints_root(path);
  std::vector<std::string> candidates;
  std::string latest;
  const std::string pointer = root + "/latest";
  if (posix::exists(pointer)) {
    latest = read_pointer(pointer);
    if (!latest.empty()) candidates.push_back(latest);
  }
  const auto steps = posix::is_directory(root) ? step_dirs(root) : decltype(step_dirs(root)){};
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (it->second != latest) candidates.push_back(it->second);
  }
  if (candidates.empty()) {
    throw UsageError(
        str("no checkpoint at ", path,
            " HINT: pass a run directory with checkpoints/latest or a step-NNNNNN directory"));
  }
  for (const std::string& name : candidates) {
    const std::string dir = root + "/" + name;
    if (!posix::exists(dir)) {
      log::warn(str(pointer, " points at ", dir, ", which does not exist"));
      continue;
    }
    const CheckpointCheck check = verify_checkpoint(dir);
    if (check.status == CheckpointCheck::kDamaged) {
      std::string aside = dir + ".damaged";
      for (int n = 2; posix::exists(aside); ++n) aside = str(dir, ".damaged-", n);
      posix::rename_path(dir, aside);
      log::warn(str("damaged checkpoint: ", check.problem, "; moved it to ", aside));
      continue;
    }
    if (check.status == CheckpointCheck::kUnverified)
      log::info(str(check.problem, "; it could not be verified"));
    if (name != latest) {
      log::warn(str("falling back to ", dir, ", the newest intact checkpoint",
                    latest.empty() ? "" : str(" (latest was ", latest, ")")));
      write_file_atomic(pointer, name + "\n");
    }
    return dir;
  }
  throw DataError(str(
      "no intact checkpoint under ", root,
      " (every one is damaged; they were moved to *.damaged) HINT: start over with --overwrite"));
}

std::string checkpoint_dir_at_step(const std::string& path, int64_t step) {
  if (is_step_dir(path)) return path;
  return checkpoints_root(path) + "/" + step_name(step);
}

void load_module_checked(const std::string& file, torch::nn::Module& module,
                         const std::string& what) {
  auto archive = open_archive(file);
  load_tensors(archive, module, "", what);
}

namespace {

// A module the checkpoint lists, loaded by name into `module`, moved to `device`, in eval mode.
void load_listed(const CheckpointInfo& info, const std::string& name, torch::nn::Module& module,
                 const torch::Device& device) {
  if (std::find(info.modules.begin(), info.modules.end(), name) == info.modules.end()) {
    throw DataError(str(info.dir, " lists no module '", name, "'"));
  }
  load_module_checked(info.dir + "/" + module_file(name), module, name);
  module.to(device);
  module.eval();
}

models::Generator decoder_of(const CheckpointInfo& info, const torch::Device& device, bool ema) {
  models::Generator generator(info.model_options());
  load_listed(info, decoder_module(info, ema), *generator, device);
  return generator;
}

models::Encoder encoder_of(const CheckpointInfo& info, const torch::Device& device) {
  if (info.model != "ae" && info.model != "vae") {
    throw UsageError(
        str(info.dir, " is a ", info.model,
            " checkpoint, which has no encoder HINT: reconstruct with an ae or vae run"));
  }
  models::Encoder encoder(info.model_options(), info.model == "vae");
  load_listed(info, "encoder", *encoder, device);
  return encoder;
}

}  // namespace

models::Generator load_generator(const std::string& ckpt_dir, const torch::Device& device,
                                 bool ema) {
  require_intact(ckpt_dir);
  return decoder_of(read_checkpoint_info(ckpt_dir), device, ema);
}

models::Encoder load_encoder(const std::string& ckpt_dir, const torch::Device& device) {
  require_intact(ckpt_dir);
  return encoder_of(read_checkpoint_info(ckpt_dir), device);
}

SamplingModels load_sampling_models(const std::string& ckpt_dir, const torch::Device& device,
                                    bool with_encoder, bool ema) {
  require_intact(ckpt_dir);
  SamplingModels models;
  models.info = read_checkpoint_info(ckpt_dir);
  models.decoder = decoder_of(models.info, device, ema);
  if (with_encoder && models.info.model != "dcgan")
    models.encoder = encoder_of(models.info, device);
  return models;
}

bool is_ema_module(const std::string& name) {
  return name == "generator_ema" || name == "decoder_ema";
}

std::string decoder_module(const CheckpointInfo& info, bool ema) {
  const std::string name = info.model == "dcgan" ? "generator" : "decoder";
  const bool has_ema =
      std::find(info.modules.begin(), info.modules.end(), name + "_ema") != info.modules.end();
  return ema && has_ema ? name + "_ema" : name;
}

DataError checkpoint_read_error(const std::string& path, const std::exception& error) {
  std::string what = error.what();
  what = what.substr(0, what.find('\n'));  // torch appends a stack trace
  if (what.find(path) == std::string::npos) what = str("checkpoint ", path, ": ", what);
  return DataError(what);
}

CheckpointModules load_checkpoint_modules(const std::string& ckpt_dir, const torch::Device& device,
                                          bool with_ema) {
  require_intact(ckpt_dir);
  CheckpointModules out;
  out.info = read_checkpoint_info(ckpt_dir);
  const models::DcganOptions options = out.info.model_options();
  for (const std::string& name : out.info.modules) {
    std::shared_ptr<torch::nn::Module> module;
    const bool ema = is_ema_module(name);
    if (ema && !with_ema) continue;
    if (name == "generator" || name == "decoder" || ema) {
      module = models::Generator(options).ptr();
    } else if (name == "discriminator") {
      module = models::Discriminator(options).ptr();
    } else if (name == "encoder") {
      module = models::Encoder(options, out.info.model == "vae").ptr();
    } else {
      throw DataError(str(ckpt_dir, ": module '", name, "' is not one this build knows"));
    }
    load_listed(out.info, name, *module, device);
    out.modules.push_back({name, module});
  }
  return out;
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
  const std::string root = run_dir + "/checkpoints";
  const std::string name = step_name(state.cursor->step);
  const std::string final_dir = root + "/" + name;
  const std::string tmp_dir = str(root, "/.tmp-", name, "-", ::getpid());
  posix::make_dirs(root);
  posix::remove_tree(tmp_dir);
  try {
    posix::make_dirs(tmp_dir);
    write_checkpoint_files(tmp_dir, state, config, shape);
    if (posix::exists(final_dir)) {  // the same step saved again: swap, then drop the old copy
      const std::string old_dir = str(root, "/.old-", name, "-", ::getpid());
      posix::rename_path(final_dir, old_dir);
      posix::rename_path(tmp_dir, final_dir);
      posix::remove_tree(old_dir);
    } else {
      posix::rename_path(tmp_dir, final_dir);
    }
    fsync_path(root);
    write_file_atomic(root + "/latest", name + "\n");
  } catch (...) {
    posix::remove_tree(tmp_dir);
    throw;
  }
  prune(root, config.keep, name);
  return final_dir;
}

CheckpointInfo restore_checkpoint(const std::string& ckpt_dir, const TrainingState& state,
                                  const TrainConfig& config, const RunShape& shape) {
  CheckpointInfo info = read_checkpoint_info(ckpt_dir);
  if (info.model != state.model) {
    throw UsageError(str("checkpoint ", ckpt_dir, " is a ", info.model, " run, but --model is ",
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
      throw UsageError(str("checkpoint ", ckpt_dir, " does not match the configuration: ", field,
                           " is ", values.first, " in the checkpoint but ", values.second,
                           " now HINT: resume with the run's own options (its config.toml)"));
    }
  }
  auto require_entry = [&](const std::vector<std::string>& saved, const std::string& name,
                           const char* kind) {
    if (std::find(saved.begin(), saved.end(), name) == saved.end()) {
      throw UsageError(str("checkpoint ", ckpt_dir, " has no ", kind, " '", name, "'",
                           is_ema_module(name)
                               ? " HINT: it was trained without --ema-halflife-kimg; resume "
                                 "without it, or start a fresh run with --init-from an export"
                               : ""));
    }
  };
  auto warn_unused = [&](const std::vector<std::string>& saved, const auto& known,
                         const char* kind) {
    for (const std::string& name : saved) {
      const bool used = std::any_of(known.begin(), known.end(),
                                    [&](const auto& item) { return item.name == name; });
      if (!used)
        log::warn(
            str("checkpoint ", ckpt_dir, ": ", kind, " '", name, "' is not used by this build"));
    }
  };
  warn_unused(info.modules, state.modules, "module");
  warn_unused(info.optimizers, state.optimizers, "optimizer");
  warn_unused(info.tensors, state.tensors, "tensor");
  for (const auto& m : state.modules) {
    require_entry(info.modules, m.name, "module");
    load_module_checked(ckpt_dir + "/" + module_file(m.name), *m.module, m.name);
  }
  for (const auto& o : state.optimizers) {
    require_entry(info.optimizers, o.name, "optimizer");
    const auto& first = o.optimizer->param_groups().at(0).params();
    const torch::Device device = first.empty() ? torch::Device(torch::kCPU) : first[0].device();
    torch::load(*o.optimizer, ckpt_dir + "/" + optimizer_file(o.name), device);
  }
  auto archive = open_archive(ckpt_dir + "/state.pt");
  // Each read needs an undefined tensor: reading into a defined one would set_() its storage.
  auto read = [&](const std::string& key) {
    torch::Tensor tensor;
    archive.read(key, tensor);
    return tensor;
  };
  for (const auto& t : state.tensors) {
    require_entry(info.tensors, t.name, "tensor");
    const torch::Tensor saved = read(t.name);
    if (t.tensor->defined() && saved.sizes() != t.tensor->sizes()) {
      throw UsageError(dcgan::str("checkpoint ", ckpt_dir, ": tensor '", t.name, "' has shape ",
                                  saved.sizes(), " but ", t.tensor->sizes(), " in the model"));
    }
    *t.tensor = saved.to(t.tensor->defined() ? t.tensor->device() : torch::Device(torch::kCPU));
  }
  at::Generator cpu_rng = at::detail::getDefaultCPUGenerator();  // a handle on the default
  cpu_rng.set_state(read("rng_cpu"));
  if (!restore_noise_state(*state.z_generator, read("rng_z"))) {
    log::warn(dcgan::str(
        "checkpoint ", ckpt_dir, ": its latent-noise RNG state is not one for ",
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
  *state.cursor = info.cursor;
  return info;
}

}  // namespace dcgan::train
