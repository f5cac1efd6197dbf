// The checkpoint room's on-disk format (internal): the files of a step directory, the entry lists
// of checkpoint.toml and format 1's implied ones, the self-checksummed info file. The layout
// itself is documented in include/dcgan/train/checkpoint.h.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "dcgan/train/checkpoint.h"

namespace dcgan::train::checkpoint {

inline constexpr const char* kInfoFile = "checkpoint.toml";
inline constexpr const char* kConfigFile = "config.toml";
inline constexpr const char* kStateFile = "state.pt";
// The key of checkpoint.toml's last line: the sha256 of every line above it.
inline constexpr const char* kSelfChecksumKey = "info_sha256";

// What a checkpoint holds, by entry name.
struct Entries {
  std::string model;
  std::vector<std::string> modules;
  std::vector<std::string> optimizers;
  std::vector<std::string> tensors;
};

// The entries of a training state, in its order.
Entries entries_of(const TrainingState& state);

std::string module_file(const std::string& name);     // <name>.pt
std::string optimizer_stem(const std::string& name);  // optim_<name>
std::string optimizer_file(const std::string& name);  // optim_<name>.pt

// The files of a checkpoint besides checkpoint.toml, each with the stem of its
// bytes_/sha256_/fingerprint_ keys: the modules, the optimizers, state.pt and config.toml.
std::vector<std::pair<std::string, std::string>> checked_files(const Entries& entries);

// Why `entries` cannot be told apart on disk, or "": an entry name becomes a file name and a TOML
// key (lower-case letters, digits and '_' only), and no two entries may share a file stem (a
// module named state, config or optim_<optimizer>, a name listed twice). The writer and the
// reader both ask.
std::string entries_problem(const Entries& entries);

// checkpoint.toml through toml++; a syntax error is a DataError naming the file and line.
toml::table read_info_table(const std::string& path);
int64_t int_value(const toml::table& table, const std::string& key, const std::string& path);
// checkpoint.toml's format_version; UsageError naming `path` when this build cannot read it.
int format_version(const toml::table& table, const std::string& path);
// The entries checkpoint.toml lists (format 2) or implies (format 1: the DCGAN's); DataError
// naming `path` when they are missing or unusable, UsageError for an unsupported format.
Entries entries_of(const toml::table& table, const std::string& path);

// The size and sha256 of each written file, by file name.
struct WrittenFile {
  std::string sha256;
  size_t bytes = 0;
};
// checkpoint.toml for `state` whose files are `files`, ending in its own checksum.
std::string info_toml(const TrainingState& state, const RunShape& shape,
                      const std::map<std::string, WrittenFile>& files);

}  // namespace dcgan::train::checkpoint
