// CelebA-shaped fixture: JPEGs encoded with TurboJPEG (4:2:0) from deterministic patterns, and the
// list files in the official (space-aligned .txt) or Kaggle (.csv) formats.
#include "celeba_fixture.h"

#include <turbojpeg.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan::prep {
namespace {

namespace fs = std::filesystem;

std::string image_name(int i) {
  char name[16];
  std::snprintf(name, sizeof(name), "%06d.jpg", i + 1);
  return name;
}

std::vector<uint8_t> face_like(int i, int w, int h, int noise_amp) {
  std::vector<uint8_t> px(static_cast<size_t>(w) * h * 3);
  uint32_t noise = 2463534242u + static_cast<uint32_t>(i) * 7919u;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      noise ^= noise << 13;
      noise ^= noise >> 17;
      noise ^= noise << 5;
      const double dx = (x - w / 2.0) / (w / 2.5), dy = (y - h / 2.2) / (h / 2.6);
      const bool face = dx * dx + dy * dy < 1.0;
      const double shade = 40 * std::sin((x + 3 * i) / 7.0) * std::cos(y / 11.0);
      const int base[3] = {face ? 200 : 40 + 10 * (i % 7), face ? 150 : 90,
                           face ? 120 : 160 - 9 * (i % 5)};
      for (int c = 0; c < 3; ++c) {
        const double v = base[c] + shade + static_cast<int>((noise >> (8 * c) & 255) % noise_amp) -
                         noise_amp / 2;
        px[(static_cast<size_t>(y) * w + x) * 3 + c] =
            static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
      }
    }
  return px;
}

void write_bytes(const fs::path& path, const unsigned char* data, size_t n) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(n));
  if (!out) throw Error(str("cannot write ", path.string()));
}

void write_jpeg(tjhandle tj, const fs::path& path, const std::vector<uint8_t>& px, int w, int h,
                int quality, size_t keep_bytes) {
  unsigned char* jpeg = nullptr;
  unsigned long size = 0;
  if (tjCompress2(tj, px.data(), w, 0, h, TJPF_RGB, &jpeg, &size, TJSAMP_420, quality, 0) != 0)
    throw Error(str("TurboJPEG: cannot encode ", path.string(), ": ", tjGetErrorStr2(tj)));
  write_bytes(path, jpeg, std::min<size_t>(size, keep_bytes));
  tjFree(jpeg);
}

void write_lists(const CelebaFixtureOptions& o, const fs::path& root) {
  const auto& names = celeba_attr_names();
  std::ofstream part(root / (o.kaggle ? "list_eval_partition.csv" : "list_eval_partition.txt"));
  std::ofstream attr(root / (o.kaggle ? "list_attr_celeba.csv" : "list_attr_celeba.txt"));
  if (o.kaggle) {
    part << "image_id,partition\n";
    attr << "image_id";
    for (const auto& n : names) attr << "," << n;
    attr << "\n";
  } else {
    attr << o.count << "\n";
    for (const auto& n : names) attr << n << " ";
    attr << "\n";
  }
  for (int i = 0; i < o.count; ++i) {
    const std::string name = image_name(i);
    part << name << (o.kaggle ? "," : " ") << fixture_partition(i, o.count) << "\n";
    attr << name;
    for (int a = 0; a < static_cast<int>(names.size()); ++a) {
      const int v = fixture_attr(i, a);
      if (o.kaggle)
        attr << "," << v;
      else
        attr << (a == 0 ? " " : "") << (v > 0 ? " 1" : "-1") << (a + 1 < 40 ? " " : "");
    }
    attr << "\n";
  }
  if (!part || !attr) throw Error(str("cannot write the CelebA lists under ", root.string()));
}

}  // namespace

const std::vector<std::string>& celeba_attr_names() {
  static const std::vector<std::string> kNames = {"5_o_Clock_Shadow",
                                                  "Arched_Eyebrows",
                                                  "Attractive",
                                                  "Bags_Under_Eyes",
                                                  "Bald",
                                                  "Bangs",
                                                  "Big_Lips",
                                                  "Big_Nose",
                                                  "Black_Hair",
                                                  "Blond_Hair",
                                                  "Blurry",
                                                  "Brown_Hair",
                                                  "Bushy_Eyebrows",
                                                  "Chubby",
                                                  "Double_Chin",
                                                  "Eyeglasses",
                                                  "Goatee",
                                                  "Gray_Hair",
                                                  "Heavy_Makeup",
                                                  "High_Cheekbones",
                                                  "Male",
                                                  "Mouth_Slightly_Open",
                                                  "Mustache",
                                                  "Narrow_Eyes",
                                                  "No_Beard",
                                                  "Oval_Face",
                                                  "Pale_Skin",
                                                  "Pointy_Nose",
                                                  "Receding_Hairline",
                                                  "Rosy_Cheeks",
                                                  "Sideburns",
                                                  "Smiling",
                                                  "Straight_Hair",
                                                  "Wavy_Hair",
                                                  "Wearing_Earrings",
                                                  "Wearing_Hat",
                                                  "Wearing_Lipstick",
                                                  "Wearing_Necklace",
                                                  "Wearing_Necktie",
                                                  "Young"};
  return kNames;
}

int fixture_partition(int i, int count) {
  const int train = count * 2 / 3, valid = count / 6;
  return i < train ? 0 : (i < train + valid ? 1 : 2);
}

int fixture_attr(int i, int a) { return (i * 7 + a * 3) % 5 < 2 ? 1 : -1; }

void write_celeba_fixture(const CelebaFixtureOptions& o) {
  const fs::path root(o.root);
  const fs::path images =
      o.kaggle ? root / "img_align_celeba" / "img_align_celeba" : root / "img_align_celeba";
  fs::create_directories(images);
  tjhandle tj = tjInitCompress();
  if (tj == nullptr) throw Error("TurboJPEG: cannot create a compressor");
  try {
    for (int i = 0; i < o.count; ++i) {
      const bool truncated = o.bad_files && i == 3, empty = o.bad_files && i == 6;
      write_jpeg(tj, images / image_name(i), face_like(i, o.width, o.height, std::max(1, o.noise)),
                 o.width, o.height, o.quality, empty ? 0 : (truncated ? 2000 : SIZE_MAX));
    }
  } catch (...) {
    tjDestroy(tj);
    throw;
  }
  tjDestroy(tj);
  if (o.lists) write_lists(o, root);
}

}  // namespace dcgan::prep
