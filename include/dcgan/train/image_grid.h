// Sample grids as PNG files, pixel for pixel what torchvision.utils.save_image(images, path,
// nrow, padding, normalize=True, value_range=(-1, 1)) writes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace dcgan::train {

// Images per row of every grid (save_image's default): sample grids, real.png, dcgan-sample.
inline constexpr int64_t kGridColumns = 8;

// images [N, C, H, W] (C 1 or 3, any device/float dtype), values meant to lie in [-1, 1] ->
// uint8 grid [3, rows*(H+padding)+padding, cols*(W+padding)+padding] on the CPU, cols =
// min(nrow, N), rows = ceil(N / cols). As torchvision: values are clamped to [-1, 1] and mapped
// by (x + 1) / 2, then to bytes by floor(v * 255 + 0.5); one channel is replicated to three; the
// padding is 0 (black); a single image gets no padding at all.
torch::Tensor make_grid(const torch::Tensor& images, int64_t nrow = kGridColumns,
                        int64_t padding = 2);

// The bytes save_image writes for images [N, C, H, W] in [-1, 1] (any device and float dtype):
// clamped to [-1, 1], mapped by (x + 1) / 2, then floor(v * 255 + 0.5); uint8 [N, C, H, W] on
// the same device. make_grid's pixels, and how FD sees generated images (as saved PNGs).
torch::Tensor image_bytes(const torch::Tensor& images);

// Rows of `width` images, each row over the row of their reconstructions (both [N, C, H, W]); a
// short last row is padded with black cells. Lay out with make_grid(..., width).
torch::Tensor reconstruction_rows(const torch::Tensor& images, const torch::Tensor& recon,
                                  int64_t width);

// An encoded PNG and its shape.
struct PngImage {
  std::string bytes;
  int width = 0;
  int height = 0;
  int channels = 0;
};

// make_grid, encoded as an 8-bit RGB PNG and written atomically (temp file, fsync, rename);
// returns what it wrote. Throws Error naming the path when the file cannot be written.
PngImage save_grid_png(const torch::Tensor& images, const std::string& path,
                       int64_t nrow = kGridColumns, int64_t padding = 2);

}  // namespace dcgan::train
