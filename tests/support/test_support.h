// Test helpers shared by every suite: scratch directories and paths to built tools.
#pragma once

#include <string>

namespace dcgan::test {

// A fresh empty directory under the system temp dir, removed by the destructor.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag = "dcgan");
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// build/bin/<tool> (from DCGAN_BIN_DIR, set by ctest).
std::string tool_path(const std::string& tool);
// <repo>/<relative> (from DCGAN_SOURCE_DIR, set by ctest).
std::string source_path(const std::string& relative);

// Runs a shell command; returns its exit status (0..255), output into *output when given.
int run_command(const std::string& command, std::string* output = nullptr);

}  // namespace dcgan::test
