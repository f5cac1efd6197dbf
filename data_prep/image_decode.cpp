// JPEG (TurboJPEG) and PNG (libpng simplified API) decoding with one-line errors naming the file.
#include <fcntl.h>
#include <png.h>
#include <sys/stat.h>
#include <unistd.h>
#include <turbojpeg.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "image.h"

namespace dcgan::prep {

ImageDecoder::ImageDecoder() : tj_(tjInitDecompress()) {
  if (tj_ == nullptr) throw Error(str("TurboJPEG: cannot create a decompressor: ", tjGetErrorStr()));
}

ImageDecoder::~ImageDecoder() {
  if (tj_ != nullptr) tjDestroy(static_cast<tjhandle>(tj_));
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
      throw DataError(str("cannot read image ", path, ": ", n == 0 ? "file shrank" : std::strerror(err)));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (bytes_.empty()) throw DataError(str("image ", path, " is empty (0 bytes)"));
}

void ImageDecoder::decode_file(const std::string& path, int channels, Image& out) {
  read_bytes(path);
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes_.size() >= 3 && bytes_[0] == 0xFF && bytes_[1] == 0xD8 && bytes_[2] == 0xFF) {
    decode_jpeg(path, channels, out);
  } else if (bytes_.size() >= 8 && std::memcmp(bytes_.data(), kPng, 8) == 0) {
    decode_png(path, channels, out);
  } else {
    throw DataError(str("image ", path, " is neither JPEG nor PNG"));
  }
}

void ImageDecoder::jpeg_size(const std::string& path, int* width, int* height) {
  read_bytes(path);
  int subsamp = 0, colorspace = 0;
  auto* tj = static_cast<tjhandle>(tj_);
  if (tjDecompressHeader3(tj, bytes_.data(), bytes_.size(), width, height, &subsamp,
                          &colorspace) != 0)
    throw DataError(str("corrupt JPEG ", path, ": ", tjGetErrorStr2(tj)));
}

void ImageDecoder::decode_jpeg(const std::string& path, int channels, Image& out) {
  auto* tj = static_cast<tjhandle>(tj_);
  int width = 0, height = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj, bytes_.data(), bytes_.size(), &width, &height, &subsamp,
                          &colorspace) != 0)
    throw DataError(str("corrupt JPEG ", path, ": ", tjGetErrorStr2(tj)));
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
  const int pixel_format = channels == 1 ? TJPF_GRAY : TJPF_RGB;
  // TJFLAG_STOPONWARNING: a truncated file is an error, not a half-grey image.
  if (tjDecompress2(tj, bytes_.data(), bytes_.size(), out.pixels.data(), w, 0, h, pixel_format,
                    TJFLAG_STOPONWARNING) != 0)
    throw DataError(str("corrupt or truncated JPEG ", path, ": ", tjGetErrorStr2(tj)));
}

void ImageDecoder::decode_png(const std::string& path, int channels, Image& out) {
  png_image png;
  std::memset(&png, 0, sizeof(png));
  png.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_memory(&png, bytes_.data(), bytes_.size()) == 0)
    throw DataError(str("corrupt PNG ", path, ": ", png.message));
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
      out.pixels[i] = color ? static_cast<uint8_t>((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 +
                                                    0x8000) >> 16)
                            : p[0];
    }
  }
}

}  // namespace dcgan::prep
