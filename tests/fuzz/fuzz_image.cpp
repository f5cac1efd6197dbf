// libFuzzer: JPEG and PNG bytes through the project's decoder and the resize pipeline, as an image
// folder scraped from the web feeds them. The first byte picks grey or RGB.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dcgan/common/errors.h"
#include "image.h"
#include "pipeline.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const int channels = (data[0] & 1) != 0 ? 3 : 1;
  static dcgan::prep::ImageDecoder decoder;  // reused, as a packing worker reuses its own
  dcgan::prep::Image image;
  try {
    decoder.decode(data + 1, size - 1, "fuzz-input", channels, image);
  } catch (const dcgan::DataError&) {
    return 0;  // the documented outcome for a bad file
  }
  if (image.width < 1 || image.height < 1 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * channels) {
    __builtin_trap();  // a decode that "succeeds" must hand out a whole image
  }
  return 0;
}
