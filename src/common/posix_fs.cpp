// POSIX file-system helpers (see posix_fs.h for why not std::filesystem).
#include "dcgan/common/posix_fs.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan::posix {
namespace {

int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  ::remove(path);
  return 0;
}

}  // namespace

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void make_dirs(const std::string& path) {
  if (path.empty() || is_directory(path)) return;
  make_dirs(parent_dir(path));
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    throw Error(str("cannot create directory ", path, ": ", std::strerror(errno)));
  }
}

void remove_tree(const std::string& path) noexcept {
  if (exists(path)) ::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void rename_path(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    throw Error(str("cannot rename ", from, " to ", to, ": ", std::strerror(errno)));
  }
}

std::vector<std::string> list_dir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) throw Error(str("cannot list ", path, ": ", std::strerror(errno)));
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  return names;
}

std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace dcgan::posix
