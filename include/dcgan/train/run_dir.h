// Ownership of a run directory before anything is written into it: one trainer at a time (an
// flock held by rank 0 for the whole run), and no fresh run over an old run's checkpoints.
#pragma once

#include <string>

#include "dcgan/common/file_lock.h"
#include "dcgan/distributed/mpi_session.h"

namespace dcgan::train {

inline constexpr const char* kRunLockFile = ".dcgan-train.lock";

struct RunDirRequest {
  std::string dir;         // the run directory (--out); created when missing
  bool resume = false;     // --resume: checkpoints are expected
  bool overwrite = false;  // --overwrite: move an old run aside first
  double lock_wait_s = 0;  // --lock-wait: how long to wait for another trainer's lock
};

// Rank 0, first thing: creates the directory, takes its lock (waiting up to lock_wait_s), then
// refuses a fresh run into a directory that holds checkpoints (UsageError: pass --resume or
// --overwrite), or with `overwrite` moves every entry but the lock into <dir>.old-<time>/, never
// deleting anything. A lock still held after the wait is a UsageError naming the holder's host and
// PID. Where the file system refuses flock it warns once and returns a lock that holds nothing.
FileLock claim_run_dir(const RunDirRequest& request);

// This machine's host name.
std::string host_name();

// Every rank must see the run directory rank 0 writes (checkpoints, logs, the resume's files):
// rank 0 writes a fresh token into <out>/logs/run-token and sends it to every rank, which must
// read the same from its own view of the path. UsageError (exit 2) naming the rank and host
// otherwise, at start, before any training. Every rank calls it.
void check_shared_run_dir(const std::string& out, const distributed::MpiSession& session);

}  // namespace dcgan::train
