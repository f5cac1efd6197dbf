// An exclusive advisory lock (flock) on a file that names its holder and dies with its process.
#pragma once

#include <string>

namespace dcgan {

class FileLock {
 public:
  enum class Result {
    kAcquired,     // held until this object is destroyed (or the process ends)
    kBusy,         // another open file description holds it; holder() says who
    kUnsupported,  // the file system refuses flock (some NFS and Lustre mounts); reason() says how
  };

  FileLock() = default;  // holds nothing
  ~FileLock() noexcept;
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Creates `path` if needed and takes the lock, retrying every 100 ms for up to `wait_seconds`
  // (0: one try). Once held, the file says "host <name> pid <pid>". Throws Error naming the path
  // when it cannot be created or opened.
  Result acquire(const std::string& path, double wait_seconds);

  bool held() const { return fd_ >= 0; }
  const std::string& holder() const { return holder_; }  // after kBusy: "host H pid P" or "unknown"
  const std::string& reason() const { return reason_; }  // after kUnsupported

 private:
  int fd_ = -1;
  std::string holder_;
  std::string reason_;
};

}  // namespace dcgan
