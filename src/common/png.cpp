// PNG encode/decode with libpng's simplified API.
#include "dcgan/common/png.h"

#include <png.h>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan {

std::string encode_png(const uint8_t* hwc, int width, int height, int channels) {
  if (width < 1 || height < 1 || (channels != 1 && channels != 3)) {
    throw Error(str("encode_png needs 1 or 3 channels and a positive size, got ", width, "x",
                    height, "x", channels));
  }
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  // First call sizes the buffer, second fills it.
  png_alloc_size_t bytes = 0;
  if (!png_image_write_to_memory(&image, nullptr, &bytes, 0, hwc, 0, nullptr)) {
    throw Error(str("PNG encoding failed: ", image.message));
  }
  std::string out(bytes, '\0');
  if (!png_image_write_to_memory(&image, out.data(), &bytes, 0, hwc, 0, nullptr)) {
    throw Error(str("PNG encoding failed: ", image.message));
  }
  out.resize(bytes);
  return out;
}

void write_png_file(const std::string& path, const uint8_t* hwc, int width, int height,
                    int channels) {
  write_file_atomic(path, encode_png(hwc, width, height, channels));
}

std::vector<uint8_t> read_png(const std::string& path, int* width, int* height, int* channels) {
  const std::string bytes = read_file(path);
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    throw DataError(str(path, ": not a readable PNG (", image.message, ")"));
  }
  // Keep what is stored: grey or colour, with or without alpha, 8 bits per channel.
  image.format &= PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr)) {
    png_image_free(&image);
    throw DataError(str(path, ": corrupt PNG (", image.message, ")"));
  }
  *width = static_cast<int>(image.width);
  *height = static_cast<int>(image.height);
  *channels = static_cast<int>(PNG_IMAGE_PIXEL_CHANNELS(image.format));
  return pixels;
}

}  // namespace dcgan
