// The one place where exceptions become a printed line and a documented exit code.
#pragma once

#include <functional>

namespace dcgan {

// Runs `body`; a dcgan::Error prints "<tool>: error: <message>" and returns its code, any other
// std::exception returns 1. The line goes to stderr and, when set up, to the rank's log.
int run_guarded(const char* tool, const std::function<int()>& body);

}  // namespace dcgan
