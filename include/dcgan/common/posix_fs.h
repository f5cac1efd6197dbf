// Small POSIX file-system helpers for the rooms and the tools. Not std::filesystem:
// libtorch.so exports its own copy of it, which the dynamic linker binds first in torch-linked
// binaries (its remove_all crashes there).
#pragma once

#include <string>
#include <vector>

namespace dcgan::posix {

bool exists(const std::string& path);
bool is_directory(const std::string& path);
// mkdir -p; throws Error naming the path.
void make_dirs(const std::string& path);
// rm -rf; never throws (best effort, used on cleanup paths).
void remove_tree(const std::string& path) noexcept;
// rename(2); throws Error naming both paths.
void rename_path(const std::string& from, const std::string& to);
// Entry names of a directory (no . and ..); throws Error naming the path.
std::vector<std::string> list_dir(const std::string& path);
std::string parent_dir(const std::string& path);

}  // namespace dcgan::posix
