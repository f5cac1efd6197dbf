// Sample grids: torchvision's make_grid + save_image arithmetic, encoded with libpng's
// simplified API (which reports errors through return codes, so no longjmp crosses C++ frames).
#include "dcgan/train/image_grid.h"

#include <png.h>

#include <algorithm>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan::train {

torch::Tensor make_grid(const torch::Tensor& images, int64_t nrow, int64_t padding) {
  if (images.dim() != 4 || (images.size(1) != 1 && images.size(1) != 3) || images.size(0) < 1) {
    throw Error(dcgan::str("make_grid needs images [N, 1 or 3, H, W], got ", images.sizes()));
  }
  if (nrow < 1 || padding < 0)
    throw Error(dcgan::str("make_grid: bad nrow ", nrow, " / padding ", padding));
  torch::NoGradGuard no_grad;
  auto x = images.detach().to(torch::kCPU, torch::kFloat32).clone();
  if (x.size(1) == 1) x = torch::cat({x, x, x}, 1);
  // normalize=True, value_range=(-1, 1): clamp, subtract the low end, divide by the range.
  x.clamp_(-1.0, 1.0).sub_(-1.0).div_(2.0);
  torch::Tensor grid;
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  if (n == 1) {
    grid = x[0];  // torchvision returns a lone image unpadded
  } else {
    const int64_t cols = std::min(nrow, n), rows = (n + cols - 1) / cols;
    const int64_t cell_h = h + padding, cell_w = w + padding;
    grid = torch::zeros({3, rows * cell_h + padding, cols * cell_w + padding}, torch::kFloat32);
    for (int64_t k = 0; k < n; ++k) {
      const int64_t y0 = (k / cols) * cell_h + padding, x0 = (k % cols) * cell_w + padding;
      grid.narrow(1, y0, h).narrow(2, x0, w).copy_(x[k]);
    }
  }
  // save_image: mul(255).add_(0.5).clamp_(0, 255), then the uint8 cast truncates.
  return grid.mul(255).add_(0.5).clamp_(0, 255).to(torch::kUInt8);
}

std::string encode_png(const torch::Tensor& chw_uint8) {
  if (chw_uint8.dim() != 3 || chw_uint8.scalar_type() != torch::kUInt8 ||
      (chw_uint8.size(0) != 1 && chw_uint8.size(0) != 3)) {
    throw Error(dcgan::str("encode_png needs uint8 [1 or 3, H, W], got ", chw_uint8.sizes()));
  }
  const auto hwc = chw_uint8.to(torch::kCPU).permute({1, 2, 0}).contiguous();
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(hwc.size(1));
  image.height = static_cast<png_uint_32>(hwc.size(0));
  image.format = hwc.size(2) == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
  // First call sizes the buffer, second fills it.
  png_alloc_size_t bytes = 0;
  if (!png_image_write_to_memory(&image, nullptr, &bytes, 0, hwc.data_ptr(), 0, nullptr)) {
    throw Error(dcgan::str("PNG encoding failed: ", image.message));
  }
  std::string out(bytes, '\0');
  if (!png_image_write_to_memory(&image, out.data(), &bytes, 0, hwc.data_ptr(), 0, nullptr)) {
    throw Error(dcgan::str("PNG encoding failed: ", image.message));
  }
  out.resize(bytes);
  return out;
}

void save_grid_png(const torch::Tensor& images, const std::string& path, int64_t nrow,
                   int64_t padding) {
  write_file_atomic(path, encode_png(make_grid(images, nrow, padding)));
}

std::vector<uint8_t> read_png(const std::string& path, int* width, int* height, int* channels) {
  const std::string bytes = read_file(path);
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    throw DataError(dcgan::str(path, ": not a readable PNG (", image.message, ")"));
  }
  // Keep what is stored: grey or colour, with or without alpha, 8 bits per channel.
  image.format &= PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA;
  std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr)) {
    png_image_free(&image);
    throw DataError(dcgan::str(path, ": corrupt PNG (", image.message, ")"));
  }
  *width = static_cast<int>(image.width);
  *height = static_cast<int>(image.height);
  *channels = static_cast<int>(PNG_IMAGE_PIXEL_CHANNELS(image.format));
  return pixels;
}

}  // namespace dcgan::train
