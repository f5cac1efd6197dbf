// Sample grids: torchvision's make_grid + save_image arithmetic, written by the project's one PNG
// writer (common/png.h).
#include "dcgan/train/image_grid.h"

#include <algorithm>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/png.h"
#include "dcgan/common/str.h"

namespace dcgan::train {

torch::Tensor make_grid(const torch::Tensor& images, int64_t nrow, int64_t padding) {
  if (images.dim() != 4 || (images.size(1) != 1 && images.size(1) != 3) || images.size(0) < 1) {
    throw Error(dcgan::str("make_grid needs images [N, 1 or 3, H, W], got ", images.sizes()));
  }
  if (nrow < 1 || padding < 0)
    throw Error(dcgan::str("make_grid: bad nrow ", nrow, " / padding ", padding));
  torch::Tensor x = image_bytes(images.to(torch::kCPU));
  if (x.size(1) == 1) x = torch::cat({x, x, x}, 1);
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  if (n == 1) return x[0];  // torchvision returns a lone image unpadded
  const int64_t cols = std::min(nrow, n), rows = (n + cols - 1) / cols;
  const int64_t cell_h = h + padding, cell_w = w + padding;
  torch::Tensor grid =
      torch::zeros({3, rows * cell_h + padding, cols * cell_w + padding}, torch::kUInt8);
  for (int64_t k = 0; k < n; ++k) {
    const int64_t y0 = (k / cols) * cell_h + padding, x0 = (k % cols) * cell_w + padding;
    grid.narrow(1, y0, h).narrow(2, x0, w).copy_(x[k]);
  }
  return grid;
}

torch::Tensor image_bytes(const torch::Tensor& images) {
  torch::NoGradGuard no_grad;
  // normalize=True, value_range=(-1, 1): clamp, subtract the low end, divide by the range; then
  // save_image's mul(255).add_(0.5).clamp_(0, 255), and the uint8 cast truncates.
  return images.detach()
      .to(torch::kFloat32)
      .clamp(-1.0, 1.0)
      .add(1.0)
      .div(2.0)
      .mul(255)
      .add(0.5)
      .clamp(0, 255)
      .to(torch::kUInt8);
}

PngImage save_grid_png(const torch::Tensor& images, const std::string& path, int64_t nrow,
                       int64_t padding) {
  const torch::Tensor hwc = make_grid(images, nrow, padding).permute({1, 2, 0}).contiguous();
  PngImage png;
  png.width = static_cast<int>(hwc.size(1));
  png.height = static_cast<int>(hwc.size(0));
  png.channels = static_cast<int>(hwc.size(2));
  png.bytes = encode_png(hwc.data_ptr<uint8_t>(), png.width, png.height, png.channels);
  write_file_atomic(path, png.bytes);
  return png;
}

torch::Tensor reconstruction_rows(const torch::Tensor& images, const torch::Tensor& recon,
                                  int64_t width) {
  std::vector<torch::Tensor> rows;
  for (int64_t at = 0; at < images.size(0); at += width) {
    const int64_t n = std::min<int64_t>(width, images.size(0) - at);
    const torch::Tensor pad =
        torch::full({width - n, images.size(1), images.size(2), images.size(3)}, -1.0,
                    images.options());  // black cells
    rows.push_back(torch::cat({images.narrow(0, at, n), pad}));
    rows.push_back(torch::cat({recon.narrow(0, at, n).to(images.options()), pad}));
  }
  return torch::cat(rows);
}

}  // namespace dcgan::train
