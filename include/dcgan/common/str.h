// dcgan::str(...): concatenates streamable values into a std::string. Safe in torch TUs, where
// the torch wheel's own fmt headers would shadow the system fmt that spdlog was built against.
#pragma once

#include <sstream>
#include <string>

namespace dcgan {

template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace dcgan
