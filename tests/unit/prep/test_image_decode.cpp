// The decoder on CMYK and YCCK JPEGs (as PIL reads them: inverted CMYK, then PIL's RGB formula),
// on bytes in memory, and its errors for files that really are corrupt.
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "dcgan/common/errors.h"
#include "image.h"
#include "support/test_support.h"

namespace dcgan::prep {
namespace {

// A YCCK JPEG (TurboJPEG writes CMYK input as YCCK) of four flat 16x16 quadrants with the given
// stored CMYK values (inverted, as Adobe writes them).
std::vector<uint8_t> ycck_jpeg(const uint8_t quadrant[4][4]) {
  const int w = 32, h = 32;
  std::vector<uint8_t> cmyk(static_cast<size_t>(w) * h * 4);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 4; ++c)
        cmyk[(static_cast<size_t>(y) * w + x) * 4 + c] = quadrant[(y / 16) * 2 + x / 16][c];
  tjhandle tj = tjInitCompress();
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  EXPECT_EQ(tjCompress2(tj, cmyk.data(), w, 0, h, TJPF_CMYK, &jpeg, &size, TJSAMP_444, 100, 0), 0)
      << tjGetErrorStr2(tj);
  std::vector<uint8_t> out(jpeg, jpeg + size);
  tjFree(jpeg);
  tjDestroy(tj);
  return out;
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(ImageDecode, YcckJpegDecodesToPilRgb) {
  // Stored (inverted) CMYK: white, pure cyan, 50% black, and a mixed ink.
  const uint8_t quadrant[4][4] = {
      {255, 255, 255, 255}, {0, 255, 255, 255}, {255, 255, 255, 128}, {200, 100, 50, 230}};
  const auto jpeg = ycck_jpeg(quadrant);
  ImageDecoder decoder;
  Image rgb;
  decoder.decode(jpeg.data(), jpeg.size(), "ycck.jpg", 3, rgb);
  ASSERT_EQ(rgb.width, 32);
  ASSERT_EQ(rgb.height, 32);
  ASSERT_EQ(rgb.channels, 3);
  // PIL: nk = 255 - K; R = nk - C*nk/255 (K, C inverted from the stored values). The mixed ink:
  // nk = 230, C = 55, M = 155, Y = 205 -> R = 230 - 50 = 180, G = 230 - 140 = 90, B = 230 - 185
  // = 45.
  const int expected[4][3] = {{255, 255, 255}, {0, 255, 255}, {128, 128, 128}, {180, 90, 45}};
  for (int q = 0; q < 4; ++q) {
    const int x = (q % 2) * 16 + 8, y = (q / 2) * 16 + 8;  // the centre of each quadrant
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(rgb.pixels[(static_cast<size_t>(y) * 32 + x) * 3 + c], expected[q][c], 1)
          << "quadrant " << q << " channel " << c;
    }
  }
  // Grey is PIL's "L" of that RGB (ITU-R 601 luma): the mixed ink gives 112.
  Image grey;
  decoder.decode(jpeg.data(), jpeg.size(), "ycck.jpg", 1, grey);
  ASSERT_EQ(grey.channels, 1);
  EXPECT_NEAR(grey.pixels[24 * 32 + 24], (180 * 19595 + 90 * 38470 + 45 * 7471 + 0x8000) >> 16, 1);
  EXPECT_NEAR(grey.pixels[8 * 32 + 8], 255, 1);
}

// PIL writes a plain CMYK JPEG (no YCCK transform) and decodes both files; ours must agree.
TEST(ImageDecode, CmykAndYcckMatchPil) {
  const char* python = std::getenv("DCGAN_PYTHON");
  if (python == nullptr || *python == '\0')
    GTEST_SKIP() << "DCGAN_PYTHON is not set (ctest sets it)";
  test::ScratchDir dir("cmyk");
  const uint8_t quadrant[4][4] = {
      {10, 200, 30, 250}, {90, 20, 240, 180}, {255, 0, 128, 64}, {33, 66, 99, 132}};
  const auto ycck = ycck_jpeg(quadrant);
  {
    std::ofstream(dir / "ycck.jpg", std::ios::binary)
        .write(reinterpret_cast<const char*>(ycck.data()),
               static_cast<std::streamsize>(ycck.size()));
  }
  const std::string script =
      "import sys, numpy as np\n"
      "from PIL import Image\n"
      "d = sys.argv[1]\n"
      "rng = np.random.default_rng(5)\n"
      "cmyk = (rng.integers(0, 256, (40, 56, 4)).astype(np.uint8) // 32) * 32\n"
      "Image.fromarray(cmyk, 'CMYK').save(d + '/cmyk.jpg', quality=95)\n"
      "for name in ('cmyk', 'ycck'):\n"
      "    im = Image.open(d + '/' + name + '.jpg')\n"
      "    assert im.mode == 'CMYK', im.mode\n"
      "    open(d + '/' + name + '.rgb', 'wb').write(im.convert('RGB').tobytes())\n"
      "    open(d + '/' + name + '.l', 'wb').write(im.convert('L').tobytes())\n";
  { std::ofstream(dir / "ref.py") << script; }
  std::string output;
  ASSERT_EQ(
      test::run_command(std::string(python) + " " + (dir / "ref.py") + " " + dir.path(), &output),
      0)
      << output;
  ImageDecoder decoder;
  for (const std::string name : {"cmyk", "ycck"}) {
    for (const int channels : {3, 1}) {
      Image ours;
      decoder.decode_file(dir / (name + ".jpg"), channels, ours);
      const auto pil = read_all(dir / (name + (channels == 3 ? ".rgb" : ".l")));
      ASSERT_EQ(ours.pixels.size(), pil.size()) << name;
      int max_diff = 0;
      for (size_t i = 0; i < pil.size(); ++i)
        max_diff = std::max(max_diff, std::abs(int{ours.pixels[i]} - int{pil[i]}));
      // PIL bundles its own libjpeg-turbo; the IDCTs may round differently by one level.
      EXPECT_LE(max_diff, 1) << name << " channels " << channels;
    }
  }
}

TEST(ImageDecode, TruncatedCmykIsCorrupt) {
  const uint8_t quadrant[4][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}, {13, 14, 15, 16}};
  auto jpeg = ycck_jpeg(quadrant);
  jpeg.resize(jpeg.size() - 40);  // the entropy-coded data ends early
  ImageDecoder decoder;
  Image out;
  try {
    decoder.decode(jpeg.data(), jpeg.size(), "half.jpg", 3, out);
    FAIL() << "a truncated JPEG decoded";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt or truncated JPEG half.jpg"), std::string::npos)
        << e.what();
  }
}

// A JPEG whose header fails must not spoil the decoder for the next good file (it did: the next
// file decoded as 0x0, and the resize divided by zero).
TEST(ImageDecode, CorruptHeaderDoesNotSpoilTheNextFile) {
  const uint8_t quadrant[4][4] = {
      {255, 255, 255, 255}, {0, 255, 255, 255}, {255, 255, 255, 128}, {200, 100, 50, 230}};
  const auto good = ycck_jpeg(quadrant);
  const std::vector<uint8_t> cut(good.begin(), good.begin() + 100);  // ends before the SOS marker
  ImageDecoder decoder;
  Image out;
  EXPECT_THROW(decoder.decode(cut.data(), cut.size(), "cut.jpg", 3, out), DataError);
  decoder.decode(good.data(), good.size(), "good.jpg", 3, out);
  ASSERT_EQ(out.width, 32);
  ASSERT_EQ(out.height, 32);
  EXPECT_NEAR(out.pixels[(24 * 32 + 24) * 3], 180, 1);
}

TEST(ImageDecode, NeitherJpegNorPng) {
  const std::string text = "hello, not an image";
  ImageDecoder decoder;
  Image out;
  try {
    decoder.decode(reinterpret_cast<const uint8_t*>(text.data()), text.size(), "notes.txt", 3, out);
    FAIL() << "text decoded";
  } catch (const DataError& e) {
    EXPECT_STREQ(e.what(), "image notes.txt is neither JPEG nor PNG");
  }
}

}  // namespace
}  // namespace dcgan::prep
