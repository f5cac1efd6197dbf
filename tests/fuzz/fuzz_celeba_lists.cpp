// libFuzzer: CelebA's list_eval_partition and list_attr_celeba, official (txt) and Kaggle (csv).
// The first byte picks the parser and the format.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dcgan/common/errors.h"
#include "sources.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const bool csv = (data[0] & 1) != 0;
  try {
    if ((data[0] & 2) != 0) {
      const auto table = dcgan::prep::parse_attrs(text, csv, "fuzz/list_attr_celeba");
      for (const auto& [name, row] : table.rows) {
        if (row.size() != table.names.size()) __builtin_trap();
      }
    } else {
      for (const auto& [name, part] :
           dcgan::prep::parse_partition(text, csv, "fuzz/list_eval_partition")) {
        if (part < 0 || part > 2) __builtin_trap();
      }
    }
  } catch (const dcgan::Error&) {
  }
  return 0;
}
