// libFuzzer: the data.pkl of a PyTorch state_dict file through the one restricted pickle reader.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dcgan/common/errors.h"
#include "dcgan/interop/pickle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view pickle(reinterpret_cast<const char*>(data), size);
  try {
    const auto tensors = dcgan::interop::parse_state_dict_pickle(pickle, "fuzz/data.pkl");
    // What parsed must write again and read back to the same records.
    const auto again = dcgan::interop::parse_state_dict_pickle(
        dcgan::interop::state_dict_pickle(tensors), "fuzz/again.pkl");
    if (again.size() != tensors.size()) __builtin_trap();
    for (size_t i = 0; i < again.size(); ++i) {
      if (again[i].name != tensors[i].name || again[i].sizes != tensors[i].sizes ||
          again[i].strides != tensors[i].strides || again[i].offset != tensors[i].offset ||
          again[i].storage_key != tensors[i].storage_key)
        __builtin_trap();
    }
  } catch (const dcgan::Error&) {
  }
  return 0;
}
