// Test helpers shared by every suite.
#include "support/test_support.h"

#include <ftw.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace dcgan::test {

ScratchDir::ScratchDir(const std::string& tag) {
  std::string templ = (std::filesystem::temp_directory_path() / (tag + "-XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + templ);
  path_ = templ;
}

// Not std::filesystem::remove_all: libtorch.so exports its own copy of std::filesystem, which
// the dynamic linker binds first in torch-linked binaries, and its remove_all crashes there.
static int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
  ::remove(path);
  return 0;
}

ScratchDir::~ScratchDir() { ::nftw(path_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

static std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

std::string tool_path(const std::string& tool) {
  return env_or("DCGAN_BIN_DIR", "build/bin") + "/" + tool;
}

std::string source_path(const std::string& relative) {
  return env_or("DCGAN_SOURCE_DIR", ".") + "/" + relative;
}

int run_command(const std::string& command, std::string* output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buf{};
  std::string out;
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace dcgan::test
