// An 8-bit interleaved image and the decoders that fill it (JPEG via TurboJPEG, PNG via libpng).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dcgan::prep {

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;             // 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;  // row-major HWC
  void resize(int w, int h, int c) {
    width = w;
    height = h;
    channels = c;
    pixels.resize(static_cast<size_t>(w) * h * c);
  }
};

// Larger images are refused before any allocation: PIL's bomb limit is 2 x 89,478,485 pixels.
inline constexpr int64_t kMaxImagePixels = int64_t{1} << 27;

// Per-thread decoding state (a TurboJPEG handle and a file buffer). Not thread-safe.
class ImageDecoder {
 public:
  ImageDecoder();
  ~ImageDecoder();
  ImageDecoder(const ImageDecoder&) = delete;
  ImageDecoder& operator=(const ImageDecoder&) = delete;

  // Reads and decodes `path` (JPEG or PNG, by content) into `out` with `channels` (1: gray,
  // 3: RGB, gray replicated). Throws DataError naming the file when it is missing, empty,
  // truncated or corrupt.
  void decode_file(const std::string& path, int channels, Image& out);
  // The same for bytes in memory; `name` is what errors call them.
  void decode(const uint8_t* data, size_t size, const std::string& name, int channels, Image& out);

  // > 0: JPEGs are decoded at the smallest DCT scale (1/2, 1/4, 1/8) whose shorter side is still
  // >= this; 0 (default) decodes at full size.
  void set_jpeg_min_short_side(int pixels) { jpeg_min_short_side_ = pixels; }
  // Forgets the last decode; then last_scaled() says whether the next one was DCT-scaled.
  void clear_last() { last_scaled_ = false; }
  bool last_scaled() const { return last_scaled_; }
  int last_full_width() const { return last_full_width_; }  // before DCT scaling
  int last_full_height() const { return last_full_height_; }

 private:
  void read_bytes(const std::string& path);
  void decode_jpeg(const uint8_t* data, size_t size, const std::string& path, int channels,
                   Image& out);
  void decode_png(const uint8_t* data, size_t size, const std::string& path, int channels,
                  Image& out);
  void cmyk_to_output(const uint8_t* cmyk, Image& out);
  [[noreturn]] void fail_jpeg(const std::string& message);  // fresh handle, then DataError
  static void check_dimensions(const std::string& path, int64_t width, int64_t height);

  void* tj_ = nullptr;  // tjhandle
  std::vector<uint8_t> bytes_;
  std::vector<uint8_t> scratch_;
  int jpeg_min_short_side_ = 0;
  bool last_scaled_ = false;
  int last_full_width_ = 0, last_full_height_ = 0;
};

}  // namespace dcgan::prep
