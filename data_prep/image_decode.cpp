// JPEG (TurboJPEG; grey, YCbCr, CMYK and YCCK) and PNG (libpng simplified API) decoding with
// one-line errors naming the file.
#include <fcntl.h>
#include <png.h>
#include <sys/stat.h>
#include <turbojpeg.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "image.h"

namespace dcgan::prep {
namespace {

// a * b / 255 rounded, exactly as PIL's MULDIV255.
inline int mul_div_255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

// ITU-R 601 luma in 16-bit fixed point, as PIL's "L" conversion.
inline uint8_t luma(int r, int g, int b) {
  return static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
}

}  // namespace

// PIL reads every CMYK JPEG as inverted (Adobe's convention, which is what nearly every CMYK
// JPEG follows), then converts with R = (255 - K) - C * (255 - K) / 255 per channel.
void ImageDecoder::cmyk_to_output(const uint8_t* cmyk, Image& out) {
  const size_t n = static_cast<size_t>(out.width) * out.height;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = cmyk + i * 4;
    const int not_k = p[3];  // 255 - K, with K inverted
    int rgb[3];
    for (int c = 0; c < 3; ++c) rgb[c] = not_k - mul_div_255(255 - p[c], not_k);
    if (out.channels == 3) {
      for (int c = 0; c < 3; ++c) out.pixels[i * 3 + c] = static_cast<uint8_t>(rgb[c]);
    } else {
      out.pixels[i] = luma(rgb[0], rgb[1], rgb[2]);
    }
  }
}

ImageDecoder::ImageDecoder() : tj_(tjInitDecompress()) {
  if (tj_ == nullptr)
    throw Error(str("TurboJPEG: cannot create a decompressor: ", tjGetErrorStr()));
}

ImageDecoder::~ImageDecoder() {
  if (tj_ != nullptr) tjDestroy(static_cast<tjhandle>(tj_));
}

void ImageDecoder::fail_jpeg(const std::string& message) {
  // A failed header read leaves the TurboJPEG handle in a state where the next good file
  // decodes as 0x0 or fails: start every file after an error on a fresh handle.
  tjDestroy(static_cast<tjhandle>(tj_));
  tj_ = tjInitDecompress();
  if (tj_ == nullptr)
    throw Error(str("TurboJPEG: cannot create a decompressor: ", tjGetErrorStr()));
  throw DataError(message);
}

void ImageDecoder::check_dimensions(const std::string& path, int64_t width, int64_t height) {
  if (width < 1 || height < 1)
    throw DataError(str("corrupt image ", path, ": its header says ", width, "x", height));
  if (width * height > kMaxImagePixels)
    throw DataError(str("image ", path, " is ", width, "x", height, ", over the limit of ",
                        kMaxImagePixels, " pixels (a decompression bomb, or not a photo)"));
}

void ImageDecoder::read_bytes(const std::string& path) {
  // One open/fstat/read into the reused buffer: no stdio buffering, no extra copy.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw DataError(str("cannot open image ", path, ": ", std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw DataError(str("cannot stat image ", path, ": ", std::strerror(err)));
  }
  bytes_.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes_.size()) {
    const ssize_t n = ::read(fd, bytes_.data() + done, bytes_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      throw DataError(
          str("cannot read image ", path, ": ", n == 0 ? "file shrank" : std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (bytes_.empty()) throw DataError(str("image ", path, " is empty (0 bytes)"));
}

void ImageDecoder::decode_file(const std::string& path, int channels, Image& out) {
  read_bytes(path);
  decode(bytes_.data(), bytes_.size(), path, channels, out);
}

void ImageDecoder::decode(const uint8_t* data, size_t size, const std::string& name, int channels,
                          Image& out) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
    decode_jpeg(data, size, name, channels, out);
  } else if (size >= 8 && std::memcmp(data, kPng, 8) == 0) {
    decode_png(data, size, name, channels, out);
  } else {
    throw DataError(str("image ", name, " is neither JPEG nor PNG"));
  }
}

void ImageDecoder::decode_jpeg(const uint8_t* data, size_t size, const std::string& path,
                               int channels, Image& out) {
  auto* tj = static_cast<tjhandle>(tj_);
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj, data, size, &width, &height, &subsamp, &colorspace) != 0)
    fail_jpeg(str("corrupt JPEG ", path, ": ", tjGetErrorStr2(tj)));
  check_dimensions(path, width, height);
  // TJSCALED rounds up, like libjpeg's own scaled output size.
  int scale_denom = 1;
  if (jpeg_min_short_side_ > 0) {
    const int short_side = std::min(width, height);
    for (int d = 8; d > 1; d /= 2) {
      if ((short_side + d - 1) / d >= jpeg_min_short_side_) {
        scale_denom = d;
        break;
      }
    }
  }
  last_scaled_ = scale_denom > 1;
  last_full_width_ = width;
  last_full_height_ = height;
  const tjscalingfactor factor{1, scale_denom};
  const int w = TJSCALED(width, factor);
  const int h = TJSCALED(height, factor);
  out.resize(w, h, channels);
  // CMYK and YCCK files (print workflows, scraped folders) come out as CMYK; the rest directly.
  const bool cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  uint8_t* target = out.pixels.data();
  if (cmyk) {
    scratch_.resize(static_cast<size_t>(w) * h * 4);
    target = scratch_.data();
  }
  const int pixel_format = cmyk ? TJPF_CMYK : channels == 1 ? TJPF_GRAY : TJPF_RGB;
  // TJFLAG_STOPONWARNING: a truncated file is an error, not a half-grey image.
  if (tjDecompress2(tj, data, size, target, w, 0, h, pixel_format, TJFLAG_STOPONWARNING) != 0)
    fail_jpeg(str("corrupt or truncated JPEG ", path, ": ", tjGetErrorStr2(tj)));
  if (cmyk) cmyk_to_output(scratch_.data(), out);
}

void ImageDecoder::decode_png(const uint8_t* data, size_t size, const std::string& path,
                              int channels, Image& out) {
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_memory(&png, data, size) == 0)
    throw DataError(str("corrupt PNG ", path, ": ", png.message));
  if (png.width > static_cast<png_uint_32>(kMaxImagePixels) ||
      png.height > static_cast<png_uint_32>(kMaxImagePixels) ||
      static_cast<int64_t>(png.width) * png.height > kMaxImagePixels) {
    png_image_free(&png);
    check_dimensions(path, png.width, png.height);
  }
  const bool color = (png.format & PNG_FORMAT_FLAG_COLOR) != 0;
  // Read RGBA and convert ourselves: PIL drops alpha (no compositing) and uses ITU-R 601 luma.
  png.format = PNG_FORMAT_RGBA;
  scratch_.resize(PNG_IMAGE_SIZE(png));
  if (png_image_finish_read(&png, nullptr, scratch_.data(), 0, nullptr) == 0) {
    const std::string message = png.message;
    png_image_free(&png);
    throw DataError(str("corrupt or truncated PNG ", path, ": ", message));
  }
  const int w = static_cast<int>(png.width), h = static_cast<int>(png.height);
  out.resize(w, h, channels);
  const size_t n = static_cast<size_t>(w) * h;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = &scratch_[i * 4];
    if (channels == 3) {
      std::memcpy(&out.pixels[i * 3], p, 3);
    } else {
      out.pixels[i] = color ? luma(p[0], p[1], p[2]) : p[0];
    }
  }
}

}  // namespace dcgan::prep
