// Opening libdcgan_cuda.so (see cuda_library.h).
#include "dcgan/common/cuda_library.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <map>
#include <mutex>
#include <string>

#include "dcgan/common/errors.h"

namespace dcgan::cuda_library {
namespace {

#ifdef DCGAN_CUDA_LIBRARY
constexpr const char* kFile = DCGAN_CUDA_LIBRARY;
#else
constexpr const char* kFile = nullptr;
#endif

std::once_flag g_once;
bool g_loaded = false;
std::string g_error;

std::mutex g_parts_mutex;
std::map<std::string, const void*>& parts() {
  static std::map<std::string, const void*> tables;
  return tables;
}

// The directory of this process's executable, with a trailing '/', or "" when unknown.
std::string executable_directory() {
  char path[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n <= 0) return "";
  const std::string exe(path, static_cast<size_t>(n));
  const size_t slash = exe.rfind('/');
  return slash == std::string::npos ? "" : exe.substr(0, slash + 1);
}

void open_once() {
  // RTLD_NOW: a symbol the executable does not export fails here, naming it, rather than at its
  // first call. RTLD_GLOBAL: libtorch_cuda's own plugins resolve against what it brought.
  const std::string beside = executable_directory() + kFile;
  std::string reasons;
  for (const std::string& candidate : {beside, std::string(kFile)}) {
    if (::dlopen(candidate.c_str(), RTLD_NOW | RTLD_GLOBAL) != nullptr) {
      g_loaded = true;
      return;
    }
    const char* why = ::dlerror();
    if (!reasons.empty()) reasons += "; ";
    reasons += why != nullptr ? why : candidate + ": unknown error";
  }
  g_error = "cannot load the CUDA library " + std::string(kFile) + " (" + reasons +
            ") HINT: it is built beside dcgan-train (cmake --build BUILD --target dcgan_cuda)";
}

}  // namespace

bool built() { return kFile != nullptr; }

bool driver_present() {
  static const bool present = ::dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL) != nullptr;
  return present;
}

void load() {
  if (!built()) {
    throw UsageError("this build has no CUDA (its torch has none) HINT: use --device cpu");
  }
  std::call_once(g_once, open_once);
  if (!g_loaded) throw Error(g_error);
}

bool loaded() { return g_loaded; }

void provide(const char* name, const void* table) {
  std::lock_guard<std::mutex> lock(g_parts_mutex);
  parts()[name] = table;
}

const void* part(const char* name) {
  std::lock_guard<std::mutex> lock(g_parts_mutex);
  const auto it = parts().find(name);
  return it == parts().end() ? nullptr : it->second;
}

}  // namespace dcgan::cuda_library
