// The store: step directories under checkpoints/, the `latest` pointer, atomic publish, pruning,
// and the choice of a checkpoint to resume from, with damaged ones quarantined.
#include "store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/posix_fs.h"
#include "dcgan/common/str.h"
#include "dcgan/train/checkpoint.h"
#include "dcgan/train/run_files.h"
#include "format.h"
#include "integrity.h"

namespace dcgan::train {
namespace {

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

// The step directories under `root`, oldest first; none when there is no `root`.
std::vector<std::pair<int64_t, std::string>> step_dirs(const std::string& root) {
  std::vector<std::pair<int64_t, std::string>> steps;
  if (!posix::is_directory(root)) return steps;
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
  return posix::exists(path + "/" + checkpoint::kInfoFile) ||
         step_of_dir_name(basename_of(path)) >= 0;
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

UsageError no_checkpoint_error(const std::string& path) {
  return UsageError(
      str("no checkpoint at ", path,
          " HINT: pass a run directory with checkpoints/latest or a step-NNNNNN directory"));
}

// Keeps the newest `keep` step directories (never `current`).
void prune(const std::string& root, int64_t keep, const std::string& current) {
  const auto steps = step_dirs(root);
  for (size_t i = 0; i + static_cast<size_t>(keep) < steps.size(); ++i) {
    if (steps[i].second != current) posix::remove_tree(root + "/" + steps[i].second);
  }
}

// Moves a damaged step directory to <dir>.damaged (or .damaged-N), out of `latest`'s and
// pruning's sight; returns the new name.
std::string quarantine(const std::string& dir) {
  std::string aside = dir + ".damaged";
  for (int n = 2; posix::exists(aside); ++n) aside = str(dir, ".damaged-", n);
  posix::rename_path(dir, aside);
  return aside;
}

// The step directories to try for a resume, best first: `latest`'s, then the others newest first.
std::vector<std::string> resume_candidates(const std::string& root, const std::string& latest) {
  std::vector<std::string> candidates;
  if (!latest.empty()) candidates.push_back(latest);
  const auto steps = step_dirs(root);
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (it->second != latest) candidates.push_back(it->second);
  }
  return candidates;
}

}  // namespace

namespace checkpoint {

std::string publish(const std::string& root, const std::string& name, int64_t keep,
                    const std::function<void(const std::string& dir)>& write_files) {
  const std::string final_dir = root + "/" + name;
  const std::string tmp_dir = str(root, "/.tmp-", name, "-", ::getpid());
  posix::make_dirs(root);
  posix::remove_tree(tmp_dir);
  try {
    posix::make_dirs(tmp_dir);
    write_files(tmp_dir);
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
  prune(root, keep, name);
  return final_dir;
}

}  // namespace checkpoint

std::string resolve_checkpoint_dir(const std::string& path) {
  if (posix::exists(path + "/" + checkpoint::kInfoFile)) return path;
  for (const std::string& root : {path, path + "/checkpoints"}) {
    const std::string pointer = root + "/latest";
    if (!posix::exists(pointer)) continue;
    const std::string dir = root + "/" + read_pointer(pointer);
    if (!posix::exists(dir + "/" + checkpoint::kInfoFile)) {
      throw DataError(str(pointer, " points at ", dir, ", which is not a complete checkpoint"));
    }
    return dir;
  }
  throw no_checkpoint_error(path);
}

std::string choose_resume_checkpoint(const std::string& path) {
  if (is_step_dir(path)) {
    checkpoint::require_intact(path);  // a step directory named by the user: that one or nothing
    return path;
  }
  const std::string root = checkpoints_root(path);
  const std::string pointer = root + "/latest";
  const std::string latest = posix::exists(pointer) ? read_pointer(pointer) : "";
  const std::vector<std::string> candidates = resume_candidates(root, latest);
  if (candidates.empty()) throw no_checkpoint_error(path);
  for (const std::string& name : candidates) {
    const std::string dir = root + "/" + name;
    if (!posix::exists(dir)) {
      log::warn(str(pointer, " points at ", dir, ", which does not exist"));
      continue;
    }
    const CheckpointCheck check = verify_checkpoint(dir);
    if (check.status == CheckpointCheck::kDamaged) {
      log::warn(str("damaged checkpoint: ", check.problem, "; moved it to ", quarantine(dir)));
      continue;
    }
    checkpoint::note_unverified(check);
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

}  // namespace dcgan::train
