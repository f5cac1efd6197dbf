// The one PNG writer (and reader of what it wrote) of the project: 8-bit interleaved pixels through
// libpng's simplified API, which reports errors by return code, so no longjmp crosses C++ frames.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dcgan {

// PNG bytes of `width` x `height` pixels, `channels` 1 (grey) or 3 (RGB), row-major HWC. Throws
// Error on a bad shape.
std::string encode_png(const uint8_t* hwc, int width, int height, int channels);

// encode_png written atomically (temp file, fsync, rename); throws Error naming the path.
void write_png_file(const std::string& path, const uint8_t* hwc, int width, int height,
                    int channels);

// Decodes a PNG file into interleaved 8-bit pixels as stored (`channels`: 1 grey, 2 grey+alpha,
// 3 RGB, 4 RGBA). Throws DataError naming the path if it is not a readable PNG.
std::vector<uint8_t> read_png(const std::string& path, int* width, int* height, int* channels);

}  // namespace dcgan
