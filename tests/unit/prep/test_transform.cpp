// The transforms against PIL (fixture made by tests/fixtures/make_pil_reference.py) and the
// torchvision geometry (sizes, offsets, Python's half-to-even rounding).
#include <gtest/gtest.h>

#include <cstdlib>

#include "dcgan/common/errors.h"
#include "pipeline.h"
#include "support/test_support.h"

namespace dcgan::prep {
namespace {

struct Agreement {
  double within2 = 0;  // fraction of values with |ours - PIL| <= 2
  int max_diff = 0;
};

Agreement compare(const std::string& input, const std::string& reference, const std::string& crop,
                  int size, int channels, bool dct = false) {
  const std::string dir = test::source_path("tests/fixtures/pil/");
  ImageDecoder decoder;
  Image ref;
  decoder.decode_file(dir + reference, channels, ref);
  EXPECT_EQ(ref.width, size);
  EXPECT_EQ(ref.height, size);
  Pipeline pipeline({size, channels, parse_crop(crop), dct});
  std::vector<uint8_t> ours(static_cast<size_t>(size) * size * channels);
  pipeline.run_file(dir + input, ours.data());
  Agreement a;
  size_t close = 0;
  for (size_t i = 0; i < ours.size(); ++i) {
    const int d = std::abs(int{ours[i]} - int{ref.pixels[i]});
    close += d <= 2;
    a.max_diff = std::max(a.max_diff, d);
  }
  a.within2 = static_cast<double>(close) / ours.size();
  std::printf("%s %s%s vs PIL: %.4f of values within +-2, max diff %d\n", input.c_str(),
              crop.c_str(), dct ? " (DCT 1/2)" : "", a.within2, a.max_diff);
  return a;
}

TEST(TransformVsPil, ResizeCenter178x218To64) {
  const auto a = compare("face.jpg", "face_rc64.png", "resize-center", 64, 3);
  EXPECT_GE(a.within2, 0.99);
  EXPECT_LE(a.max_diff, 3);
  RecordProperty("max_diff", a.max_diff);
}

TEST(TransformVsPil, CenterCrop108) {
  const auto a = compare("face.jpg", "face_c108.png", "center:108", 64, 3);
  EXPECT_GE(a.within2, 0.99);
}

TEST(TransformVsPil, Box89_121_128) {
  const auto a = compare("face.jpg", "face_box.png", "box:89,121,128", 64, 3);
  EXPECT_GE(a.within2, 0.99);
}

TEST(TransformVsPil, GrayFromColorJpeg) {
  const auto a = compare("face.jpg", "face_gray32.png", "resize-center", 32, 1);
  EXPECT_GE(a.within2, 0.99);
}

TEST(TransformVsPil, LandscapeRgbaPng) {
  const auto a = compare("wide.png", "wide_rc32.png", "resize-center", 32, 3);
  EXPECT_GE(a.within2, 0.99);
  EXPECT_LE(a.max_diff, 1);  // PNG decoding is exact, so only rounding can differ
}

// DCT-domain 1/2 decoding (opt-in --jpeg-dct-scale): measured against the same bound.
TEST(TransformVsPil, DctScaledResizeCenter) {
  const auto a = compare("face.jpg", "face_rc64.png", "resize-center", 64, 3, /*dct=*/true);
  // Measured 0.918 on this noisy fixture: below the 0.99 bound, which is why it is opt-in.
  RecordProperty("dct_within2_permille", static_cast<int>(a.within2 * 1000));
  EXPECT_GE(a.within2, 0.85);
}

TEST(TransformPlan, TorchvisionGeometry) {
  const CropSpec rc = parse_crop("resize-center");
  auto p = plan_transform(rc, 178, 218, 64, "x");
  EXPECT_EQ(p.full_w, 64);
  EXPECT_EQ(p.full_h, 78);  // int(64 * 218 / 178) = 78
  EXPECT_EQ(p.out_x, 0);
  EXPECT_EQ(p.out_y, 7);                     // round((78 - 64) / 2)
  p = plan_transform(rc, 130, 64, 64, "x");  // landscape: 130 wide -> full 130, (130-64)/2 = 33
  EXPECT_EQ(p.full_w, 130);
  EXPECT_EQ(p.out_x, 33);
  p = plan_transform(rc, 65, 64, 64, "x");  // (65-64)/2 = 0.5 rounds to even: 0
  EXPECT_EQ(p.out_x, 0);
  p = plan_transform(rc, 67, 64, 64, "x");  // 1.5 rounds to even: 2
  EXPECT_EQ(p.out_x, 2);
  p = plan_transform(parse_crop("box:89,121,128"), 178, 218, 64, "x");
  EXPECT_EQ(p.src_x, 25);
  EXPECT_EQ(p.src_y, 57);
  EXPECT_EQ(p.src_w, 128);
  p = plan_transform(parse_crop("center:108"), 178, 218, 64, "x");
  EXPECT_EQ(p.src_x, 35);
  EXPECT_EQ(p.src_y, 55);
}

TEST(TransformPlan, BadSpecsAndBoxesOutsideTheImage) {
  EXPECT_THROW(parse_crop("center"), UsageError);
  EXPECT_THROW(parse_crop("box:1,2"), UsageError);
  EXPECT_THROW(parse_crop("center:0"), UsageError);
  EXPECT_EQ(parse_crop("box:89,121,128").text(), "box:89,121,128");
  try {
    plan_transform(parse_crop("box:10,10,128"), 178, 218, 64, "dir/000001.jpg");
    FAIL() << "box outside the image accepted";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("dir/000001.jpg"), std::string::npos) << e.what();
  }
}

TEST(TransformPlan, UpscaleIsBilinearAndIdentityIsExact) {
  Image src;
  src.resize(2, 2, 1);
  src.pixels = {0, 100, 100, 200};
  Resampler r;
  Image out;
  ResamplePlan p = plan_transform(parse_crop("resize-center"), 2, 2, 2, "x");
  r.run(src, p, 2, out);
  EXPECT_EQ(out.pixels, src.pixels);
  p = plan_transform(parse_crop("resize-center"), 2, 2, 4, "x");
  r.run(src, p, 4, out);
  // PIL: 2 -> 4 bilinear, centres at 0.25/0.75 of each source pixel: row 0 = 0 25 75 100.
  EXPECT_EQ(out.pixels[0], 0);
  EXPECT_EQ(out.pixels[1], 25);
  EXPECT_EQ(out.pixels[2], 75);
  EXPECT_EQ(out.pixels[3], 100);
  EXPECT_EQ(out.pixels[15], 200);
}

}  // namespace
}  // namespace dcgan::prep
