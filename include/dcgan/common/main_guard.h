// The one place where exceptions become printed lines and a documented exit code.
#pragma once

#include <functional>
#include <string>

namespace dcgan {

// Runs `body`; a dcgan::Error prints "<tool>: error: <message>" and returns its code, any other
// std::exception returns 1. The line goes to stderr and, when set up, to the rank's log.
int run_guarded(const char* tool, const std::function<int()>& body);

// Prints "<tool>: error: <line>" for each line of `message` (an error reported for several
// ranks at once has one line per distinct error), to stderr and, when set up, the rank's log.
void report_error(const char* tool, const std::string& message);

}  // namespace dcgan
