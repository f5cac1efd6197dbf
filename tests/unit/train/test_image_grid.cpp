// Tests of the sample grid: layout, padding and the [-1, 1] -> byte mapping of torchvision's
// save_image(normalize=True, value_range=(-1, 1)), through a PNG file and back.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/png.h"
#include "dcgan/train/image_grid.h"
#include "support/test_support.h"

namespace dcgan::train {
namespace {

// The bytes save_image gives these inputs: floor(((clamp(x, -1, 1) + 1) / 2) * 255 + 0.5).
// Picked away from rounding ties so the expectation does not depend on float detail.
const std::vector<float> kValues = {-1.0f, 0.0f, 1.0f, -2.0f, 2.0f, 0.5f, -0.5f, 0.9f};
const std::vector<int> kBytes = {0, 128, 255, 0, 255, 191, 64, 242};

struct Decoded {
  std::vector<uint8_t> pixels;
  int width = 0, height = 0, channels = 0;
  int at(int y, int x, int c) const { return pixels[(y * width + x) * channels + c]; }
};

Decoded round_trip(const torch::Tensor& images, int64_t nrow, int64_t padding) {
  test::ScratchDir dir("grid");
  const auto path = dir / "grid.png";
  save_grid_png(images, path, nrow, padding);
  Decoded d;
  d.pixels = read_png(path, &d.width, &d.height, &d.channels);
  return d;
}

TEST(ImageGrid, KnownValuesPaddingAndLayout) {
  // 3 grey images of 2x4 with nrow 2: a 2x2 grid whose last cell stays padding.
  const int64_t n = 3, h = 2, w = 4, pad = 2;
  auto images = torch::empty({n, 1, h, w});
  for (int64_t k = 0; k < n; ++k)
    for (int64_t i = 0; i < h * w; ++i)
      images[k][0][i / w][i % w] = kValues[(k * 3 + i) % kValues.size()];
  const auto d = round_trip(images, /*nrow=*/2, pad);
  ASSERT_EQ(d.width, 2 * (w + pad) + pad);           // 14
  ASSERT_EQ(d.height, 2 * (h + pad) + pad);          // 10
  ASSERT_EQ(d.channels, 3);                          // grey is replicated to RGB, as make_grid does
  std::vector<int> expected(d.width * d.height, 0);  // padding and the empty cell: 0
  for (int64_t k = 0; k < n; ++k) {
    const int64_t y0 = (k / 2) * (h + pad) + pad, x0 = (k % 2) * (w + pad) + pad;
    for (int64_t i = 0; i < h * w; ++i)
      expected[(y0 + i / w) * d.width + x0 + i % w] = kBytes[(k * 3 + i) % kBytes.size()];
  }
  for (int y = 0; y < d.height; ++y)
    for (int x = 0; x < d.width; ++x)
      for (int c = 0; c < 3; ++c)
        ASSERT_EQ(d.at(y, x, c), expected[y * d.width + x]) << y << "," << x;
}

TEST(ImageGrid, ColourChannelsKeepTheirOrder) {
  auto images = torch::empty({2, 3, 1, 1});
  images[0] = torch::tensor({-1.0f, 0.0f, 1.0f}).view({3, 1, 1});
  images[1] = torch::tensor({0.5f, -0.5f, 0.9f}).view({3, 1, 1});
  const auto d = round_trip(images, 8, 1);
  ASSERT_EQ(d.width, 5);
  ASSERT_EQ(d.height, 3);
  ASSERT_EQ(d.channels, 3);
  EXPECT_EQ(d.at(1, 1, 0), 0);
  EXPECT_EQ(d.at(1, 1, 1), 128);
  EXPECT_EQ(d.at(1, 1, 2), 255);
  EXPECT_EQ(d.at(1, 3, 0), 191);
  EXPECT_EQ(d.at(1, 3, 1), 64);
  EXPECT_EQ(d.at(1, 3, 2), 242);
  EXPECT_EQ(d.at(1, 2, 0) + d.at(0, 1, 1) + d.at(2, 4, 2), 0);  // padding
}

TEST(ImageGrid, TutorialGridSize) {
  // 64 samples of 32x32 in the 8x8 grid with 2-pixel padding: 8 * 34 + 2 = 274.
  const auto grid = make_grid(torch::zeros({64, 3, 32, 32}));
  EXPECT_EQ(grid.sizes(), torch::IntArrayRef({3, 274, 274}));
  EXPECT_EQ(grid.scalar_type(), torch::kUInt8);
  // 64 * 32 * 32 image pixels of 128 per channel, the rest 0.
  EXPECT_EQ(grid.to(torch::kInt64).sum().item<int64_t>(), 3LL * 64 * 32 * 32 * 128);
}

TEST(ImageGrid, LoneImageIsNotPadded) {
  const auto grid = make_grid(torch::ones({1, 1, 5, 7}), 8, 2);
  EXPECT_EQ(grid.sizes(), torch::IntArrayRef({3, 5, 7}));
  EXPECT_EQ(grid.min().item<int>(), 255);
}

TEST(ImageGrid, SameInputSameBytes) {
  torch::manual_seed(0);
  const auto images = torch::randn({16, 3, 8, 8});
  test::ScratchDir dir("grid");
  save_grid_png(images, dir / "a.png");
  save_grid_png(images.clone(), dir / "b.png");
  EXPECT_EQ(read_file(dir / "a.png"), read_file(dir / "b.png"));
}

TEST(ImageGrid, BadShapesAndFilesAreRefused) {
  EXPECT_THROW(make_grid(torch::zeros({2, 2, 4, 4})), Error);  // two channels
  EXPECT_THROW(make_grid(torch::zeros({3, 4, 4})), Error);     // no batch dimension
  test::ScratchDir dir("grid");
  const auto path = dir / "not.png";
  write_file_atomic(path, "definitely not a png");
  int w = 0, h = 0, c = 0;
  try {
    read_png(path, &w, &h, &c);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_THROW(save_grid_png(torch::zeros({2, 3, 4, 4}), dir / "no/such/dir/x.png"), Error);
}

}  // namespace
}  // namespace dcgan::train
