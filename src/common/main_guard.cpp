// Maps exceptions to printed lines and a documented exit code.
#include "dcgan/common/main_guard.h"

#include <cstdio>
#include <exception>
#include <string>

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"

namespace dcgan {

void report_error(const char* tool, const std::string& message) {
  // The logger prints to the console only on rank 0 for info, but errors always reach stderr.
  size_t start = 0;
  do {  // at least one line, even for an empty message
    const size_t end = message.find('\n', start);
    log::error(std::string(tool) + ": error: " + message.substr(start, end - start));
    start = end == std::string::npos ? end : end + 1;
  } while (start != std::string::npos);
  log::flush();
}

int run_guarded(const char* tool, const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    report_error(tool, e.what());
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    report_error(tool, e.what());
    return static_cast<int>(ExitCode::kRuntime);
  }
}

}  // namespace dcgan
