// libFuzzer: manifest.json text through the one manifest parser.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dcgan/common/errors.h"
#include "dcgan/data/schema.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const dcgan::data::Manifest m =
        dcgan::data::schema::manifest_from_json(text, "fuzz/manifest.json");
    (void)dcgan::data::schema::manifest_to_json(m);  // what parsed must serialise again
  } catch (const dcgan::Error&) {
  }
  return 0;
}
