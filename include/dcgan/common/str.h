// dcgan::str(...): concatenates streamable values into a std::string. Safe in torch TUs, where
// the torch wheel's own fmt headers would shadow the system fmt that spdlog was built against.
#pragma once

#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

namespace dcgan {

template <class... Args>
std::string str(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// `value` with `digits` digits after the point: fixed(1.5, 2) is "1.50".
inline std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

// "a", "a or b", "a, b or c": the values an option takes, in an error message.
inline std::string or_list(const std::vector<std::string>& items) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i)
    text += (i == 0 ? "" : i + 1 == items.size() ? " or " : ", ") + items[i];
  return text;
}

}  // namespace dcgan
