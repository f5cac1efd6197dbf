// FileLock: flock(LOCK_EX | LOCK_NB) polled against a deadline; the holder writes who it is.
#include "dcgan/common/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan {
namespace {

std::string read_holder(int fd) {
  char buf[256] = {};
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  std::string text = n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  text.erase(text.find_last_not_of(" \n\r\t") + 1);
  return text.empty() ? "unknown" : text;
}

void write_holder(int fd) {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::strcpy(host, "unknown");
  const std::string text = str("host ", host, " pid ", ::getpid(), "\n");
  // Best effort: the lock itself is what protects; the text only names the holder.
  if (::ftruncate(fd, 0) == 0 && ::pwrite(fd, text.data(), text.size(), 0) < 0) return;
}

}  // namespace

FileLock::~FileLock() noexcept {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

FileLock::FileLock(FileLock&& other) noexcept
    : fd_(other.fd_), holder_(std::move(other.holder_)), reason_(std::move(other.reason_)) {
  other.fd_ = -1;
}

FileLock& FileLock::operator=(FileLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    holder_ = std::move(other.holder_);
    reason_ = std::move(other.reason_);
    other.fd_ = -1;
  }
  return *this;
}

FileLock::Result FileLock::acquire(const std::string& path, double wait_seconds) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(str("cannot open lock file ", path, ": ", std::strerror(errno)));
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration<double>(wait_seconds > 0 ? wait_seconds : 0);
  while (true) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      if (fd_ >= 0) ::close(fd_);
      fd_ = fd;
      write_holder(fd_);
      return Result::kAcquired;
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err != EWOULDBLOCK) {  // ENOLCK, EOPNOTSUPP, EINVAL: no flock on this file system
      reason_ = std::strerror(err);
      ::close(fd);
      return Result::kUnsupported;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      holder_ = read_holder(fd);
      ::close(fd);
      return Result::kBusy;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace dcgan
