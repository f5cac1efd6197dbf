// Maps exceptions to one printed line and a documented exit code.
#include "dcgan/common/main_guard.h"

#include <cstdio>
#include <exception>
#include <string>

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"

namespace dcgan {

int run_guarded(const char* tool, const std::function<int()>& body) {
  auto report = [&](const std::string& message) {
    log::error(message);
    log::flush();
    // The logger prints to the console only on rank 0 for info, but errors always reach stderr.
  };
  try {
    return body();
  } catch (const Error& e) {
    report(std::string(tool) + ": error: " + e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    report(std::string(tool) + ": error: " + e.what());
    return static_cast<int>(ExitCode::kRuntime);
  }
}

}  // namespace dcgan
