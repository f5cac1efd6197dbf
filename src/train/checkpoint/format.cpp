// The on-disk format: entry lists (format 2 lists them, format 1 implied the DCGAN's), file names,
// the self-checksummed checkpoint.toml, and reading it back.
#include "format.h"

#include <algorithm>
#include <sstream>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/sha256.h"
#include "dcgan/common/str.h"
#include "dcgan/models/registry.h"
#include "dcgan/train/fingerprint.h"

namespace dcgan::train {
namespace checkpoint {
namespace {

// Format 1, written before the recipes, held exactly the DCGAN's files with the lists implied.
Entries format1_entries() {
  const models::ModelSpec& dcgan = models::model_spec("dcgan");
  return {dcgan.name, {dcgan.decoder, dcgan.discriminator}, {"g", "d"}, {"fixed_noise"}};
}

bool valid_entry_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_';
  });
}

std::vector<std::string> string_list(const toml::table& table, const std::string& key,
                                     const std::string& path) {
  const toml::array* array = table[key].as_array();
  if (array == nullptr) throw DataError(str(path, ": missing list '", key, "'"));
  std::vector<std::string> out;
  for (const toml::node& node : *array) {
    const auto value = node.value_exact<std::string>();
    if (!value) throw DataError(str(path, ": '", key, "' must list strings"));
    out.push_back(*value);
  }
  return out;
}

toml::array toml_list(const std::vector<std::string>& names) {
  toml::array list;
  for (const std::string& name : names) list.push_back(name);
  return list;
}

}  // namespace

int format_version(const toml::table& table, const std::string& path) {
  const int64_t version = int_value(table, "format_version", path);
  if (version < kOldestCheckpointFormatVersion || version > kCheckpointFormatVersion) {
    throw UsageError(str(path, ": checkpoint format ", version,
                         " is not supported (this build reads formats ",
                         kOldestCheckpointFormatVersion, " to ", kCheckpointFormatVersion, ")"));
  }
  return static_cast<int>(version);
}

std::string module_file(const std::string& name) { return name + ".pt"; }
std::string optimizer_stem(const std::string& name) { return "optim_" + name; }
std::string optimizer_file(const std::string& name) { return optimizer_stem(name) + ".pt"; }

Entries entries_of(const TrainingState& state) {
  Entries entries{state.model, {}, {}, {}};
  for (const auto& m : state.modules) entries.modules.push_back(m.name);
  for (const auto& o : state.optimizers) entries.optimizers.push_back(o.name);
  for (const auto& t : state.tensors) entries.tensors.push_back(t.name);
  return entries;
}

std::vector<std::pair<std::string, std::string>> checked_files(const Entries& entries) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const std::string& m : entries.modules) files.emplace_back(m, module_file(m));
  for (const std::string& o : entries.optimizers)
    files.emplace_back(optimizer_stem(o), optimizer_file(o));
  files.emplace_back("state", kStateFile);
  files.emplace_back("config", kConfigFile);
  return files;
}

std::string entries_problem(const Entries& entries) {
  for (const auto* names : {&entries.modules, &entries.optimizers, &entries.tensors}) {
    for (const std::string& name : *names) {
      if (!valid_entry_name(name)) return str("bad entry name '", name, "'");
    }
  }
  const auto files = checked_files(entries);
  for (size_t i = 0; i < files.size(); ++i) {
    for (size_t j = i + 1; j < files.size(); ++j) {
      if (files[i].first == files[j].first)
        return str("two entries share the file stem '", files[i].first, "'");
    }
  }
  return "";
}

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

Entries entries_of(const toml::table& table, const std::string& path) {
  if (format_version(table, path) == 1) return format1_entries();
  Entries entries;
  const auto model = table["model"].value_exact<std::string>();
  if (!model) throw DataError(str(path, ": missing string key 'model'"));
  entries.model = *model;
  entries.modules = string_list(table, "modules", path);
  entries.optimizers = string_list(table, "optimizers", path);
  entries.tensors = string_list(table, "tensors", path);
  const std::string problem = entries_problem(entries);
  if (!problem.empty()) throw DataError(str(path, ": ", problem));
  return entries;
}

std::string info_toml(const TrainingState& state, const RunShape& shape,
                      const std::map<std::string, WrittenFile>& files) {
  const TrainCursor& c = *state.cursor;
  const Entries entries = entries_of(state);
  toml::table info{{"format_version", kCheckpointFormatVersion},
                   {"model", state.model},
                   {"step", c.step},
                   {"epoch", c.epoch},
                   {"batch", c.batch},
                   {"world_size", shape.world_size},
                   {"image_size", shape.image_size},
                   {"channels", shape.channels},
                   {"modules", toml_list(entries.modules)},
                   {"optimizers", toml_list(entries.optimizers)},
                   {"tensors", toml_list(entries.tensors)}};
  for (const auto& m : state.modules)
    info.insert(str("fingerprint_", m.name), module_fingerprint(*m.module));
  for (const auto& o : state.optimizers)
    info.insert(str("fingerprint_", optimizer_stem(o.name)), optimizer_fingerprint(*o.optimizer));
  for (const auto& [stem, file] : checked_files(entries)) {
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

}  // namespace checkpoint

CheckpointInfo read_checkpoint_info(const std::string& ckpt_dir) {
  CheckpointInfo info;
  info.dir = ckpt_dir;
  const std::string info_path = ckpt_dir + "/" + checkpoint::kInfoFile;
  const toml::table values = checkpoint::read_info_table(info_path);
  info.format_version = checkpoint::format_version(values, info_path);
  checkpoint::Entries entries = checkpoint::entries_of(values, info_path);
  info.model = std::move(entries.model);
  info.modules = std::move(entries.modules);
  info.optimizers = std::move(entries.optimizers);
  info.tensors = std::move(entries.tensors);
  info.cursor.step = checkpoint::int_value(values, "step", info_path);
  info.cursor.epoch = checkpoint::int_value(values, "epoch", info_path);
  info.cursor.batch = checkpoint::int_value(values, "batch", info_path);
  const std::string config_path = ckpt_dir + "/" + checkpoint::kConfigFile;
  config_from_toml(read_file(config_path), config_path, &info.config, &info.shape);
  info.shape.world_size = checkpoint::int_value(values, "world_size", info_path);
  info.shape.image_size = checkpoint::int_value(values, "image_size", info_path);
  info.shape.channels = checkpoint::int_value(values, "channels", info_path);
  return info;
}

models::NetOptions CheckpointInfo::net_options() const { return train::net_options(config, shape); }

}  // namespace dcgan::train
