// Typed exceptions carrying context, and the documented process exit codes they map to.
#pragma once

#include <stdexcept>
#include <string>

namespace dcgan {

// Process exit codes, documented in the README. Every `main` maps exceptions onto these.
enum class ExitCode : int {
  kOk = 0,
  kRuntime = 1,     // runtime failure: MPI/NCCL/CUDA error, dead peer, full disk, I/O
  kUsage = 2,       // bad flag, bad config file, inconsistent options
  kData = 3,        // missing/corrupt input data, bad manifest, checksum mismatch
  kPreempted = 75,  // stopped on a signal after writing a checkpoint: requeue and resume
};

// Base of every project exception. The message is one line with its context (file, rank, option).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ExitCode code = ExitCode::kRuntime)
      : std::runtime_error(message), code_(code) {}
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(message, ExitCode::kUsage) {}
};

class DataError : public Error {
 public:
  explicit DataError(const std::string& message) : Error(message, ExitCode::kData) {}
};

// A failing call of an external library (MPI, NCCL, CUDA, HDF5) with the expression and location.
class LibraryError : public Error {
 public:
  LibraryError(const std::string& message, ExitCode code = ExitCode::kRuntime)
      : Error(message, code) {}
};

}  // namespace dcgan
