// claim_run_dir: the lock, then the fresh-run refusal or --overwrite's move aside; the check that
// every rank sees the run directory.
#include "dcgan/train/run_dir.h"

#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <random>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/posix_fs.h"
#include "dcgan/common/str.h"

namespace dcgan::train {
namespace {

// <dir>.old-YYYYmmdd-HHMMSS, with -2, -3, ... when that exists already.
std::string aside_name(const std::string& dir) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  ::localtime_r(&now, &local);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &local);
  std::string trimmed = dir;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  const std::string base = str(trimmed, ".old-", stamp);
  std::string name = base;
  for (int n = 2; posix::exists(name); ++n) name = str(base, "-", n);
  return name;
}

// Moves every entry of `dir` except the lock file into a new <dir>.old-<time>/; returns that
// directory, or "" when there was nothing to move.
std::string move_run_aside(const std::string& dir) {
  std::vector<std::string> names = posix::list_dir(dir);
  names.erase(std::remove(names.begin(), names.end(), kRunLockFile), names.end());
  if (names.empty()) return "";
  const std::string aside = aside_name(dir);
  posix::make_dirs(aside);
  for (const std::string& name : names) posix::rename_path(dir + "/" + name, aside + "/" + name);
  return aside;
}

// True when <dir>/checkpoints holds a checkpoint directory or a `latest` pointer.
bool has_checkpoints(const std::string& dir) {
  const std::string root = dir + "/checkpoints";
  if (!posix::is_directory(root)) return false;
  for (const std::string& name : posix::list_dir(root)) {
    if (name == "latest" || name.rfind("step-", 0) == 0) return true;
  }
  return false;
}

}  // namespace

FileLock claim_run_dir(const RunDirRequest& request) {
  const std::string& dir = request.dir;
  if (posix::exists(dir) && !posix::is_directory(dir)) {
    throw UsageError(str("--out ", dir, " exists and is not a directory"));
  }
  posix::make_dirs(dir);
  FileLock lock;
  const std::string lock_path = dir + "/" + kRunLockFile;
  switch (lock.acquire(lock_path, request.lock_wait_s)) {
    case FileLock::Result::kAcquired:
      break;
    case FileLock::Result::kBusy:
      throw UsageError(str("run directory ", dir, " is in use by another dcgan-train (",
                           lock.holder(), ", lock ", lock_path,
                           ") HINT: wait for it to end, pass --lock-wait "
                           "SECONDS, or choose another --out"));
    case FileLock::Result::kUnsupported:
      log::warn(str("the file system of ", dir, " refuses flock (", lock.reason(),
                    "): running without the run-directory lock, so nothing stops a second trainer"
                    " from writing into it"));
      break;
  }
  if (request.resume) return lock;
  if (request.overwrite) {
    const std::string aside = move_run_aside(dir);
    if (!aside.empty())
      log::warn(str("--overwrite: moved the previous contents of ", dir, " to ", aside));
  } else if (has_checkpoints(dir)) {
    throw UsageError(
        str("run directory ", dir,
            " already holds checkpoints of an earlier run "
            "HINT: pass --resume to continue it, or --overwrite to start over (the old "
            "run is moved to ",
            dir, ".old-<time>)"));
  }
  return lock;
}

std::string host_name() {
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

void check_shared_run_dir(const std::string& out, const distributed::MpiSession& session) {
  if (session.world_size() == 1) return;
  const std::string path = out + "/logs/run-token";
  std::string token;
  if (session.rank() == 0) {
    std::random_device random;
    token = str(host_name(), "-", ::getpid(), "-", std::hex, random(), random());
    write_file_atomic(path, token);
  }
  token = session.broadcast(token, 0);
  std::string seen = token;
  if (session.rank() != 0) {
    try {
      seen = read_file(path);
    } catch (const Error&) {
      seen.clear();
    }
  }
  if (seen != token) {
    throw UsageError(str("rank ", session.rank(), " on host ", host_name(),
                         " does not see the run directory ", out, " that rank 0 writes (",
                         seen.empty() ? "no " + path : path + " differs",
                         ") HINT: the run directory must be on a file system every node sees"));
  }
  // No rank goes on, rank 0 writing the run's files least of all, before every rank has looked:
  // a rank that throws above ends the job while the others wait here.
  session.barrier();
}

}  // namespace dcgan::train
