// libFuzzer: IDX image and label files, plain or gzip, through the IDX parsers. The first byte
// picks images or labels (checked against the count the label file itself claims).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "dcgan/common/errors.h"
#include "sources.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  try {
    const auto bytes = dcgan::prep::inflate_if_gzip({data + 1, data + size}, "fuzz.idx");
    if ((data[0] & 1) == 0) {
      const auto h = dcgan::prep::parse_idx_images(bytes, "fuzz.idx");
      const size_t n = static_cast<size_t>(h.count) * h.height * h.width;
      if (h.pixel_offset + n != bytes.size()) __builtin_trap();  // pixels must lie inside
      volatile uint8_t last = bytes[h.pixel_offset + n - 1];
      (void)last;
    } else {
      // The count the label header claims, so the seeds are valid files.
      const int64_t count =
          bytes.size() >= 8 ? (int64_t{bytes[4]} << 24 | bytes[5] << 16 | bytes[6] << 8 | bytes[7])
                            : 0;
      const auto labels = dcgan::prep::parse_idx_labels(bytes, count, "fuzz.idx");
      if (static_cast<int64_t>(labels.size()) != count) __builtin_trap();
    }
  } catch (const dcgan::Error&) {
  }
  return 0;
}
