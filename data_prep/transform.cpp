// Crop specs and a resampler with PIL's BILINEAR semantics: a triangle filter widened by the
// downscale factor (antialiasing), normalised weights in 22-bit fixed point, horizontal pass
// first (rounded to uint8) and then vertical, exactly as Pillow's Resample.c does.
#include "transform.h"

#include <algorithm>
#include <cmath>
#include <regex>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan::prep {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Coefficients for output positions [first, first + count) of an in_size -> full resize.
void make_coeffs(int in_size, int full, int first, int count, Resampler::Coeffs& c) {
  if (c.in_size == in_size && c.full == full && c.first == first && c.count == count) return;
  const double scale = static_cast<double>(in_size) / full;
  const double filterscale = std::max(scale, 1.0);
  const double support = 1.0 * filterscale;  // BILINEAR's support is 1
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.xmin.assign(count, 0);
  c.xcount.assign(count, 0);
  c.weights.assign(static_cast<size_t>(count) * c.ksize, 0);
  const double inv_filterscale = 1.0 / filterscale;  // PIL multiplies by the reciprocal
  std::vector<double> k(c.ksize);
  for (int i = 0; i < count; ++i) {
    const double center = (first + i + 0.5) * scale;
    const int lo = std::max(0, static_cast<int>(center - support + 0.5));
    const int hi = std::min(in_size, static_cast<int>(center + support + 0.5));
    double total = 0.0;
    for (int x = 0; x < hi - lo; ++x) {
      k[x] = triangle((x + lo - center + 0.5) * inv_filterscale);
      total += k[x];
    }
    for (int x = 0; x < hi - lo; ++x) {
      const double w = total != 0.0 ? k[x] / total : k[x];
      c.weights[static_cast<size_t>(i) * c.ksize + x] =
          static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits)
                                     : 0.5 + w * (1 << kPrecisionBits));
    }
    c.xmin[i] = lo;
    c.xcount[i] = hi - lo;
  }
  c.in_size = in_size;
  c.full = full;
  c.first = first;
  c.count = count;
}

inline uint8_t clip8(int64_t acc) {
  const int64_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Python's round(): halves go to the even neighbour (torchvision's CenterCrop uses it).
int round_half_even(double v) { return static_cast<int>(std::nearbyint(v)); }

}  // namespace

std::string CropSpec::text() const {
  switch (kind) {
    case Kind::kCenter: return str("center:", crop);
    case Kind::kBox: return str("box:", center_x, ",", center_y, ",", crop);
    default: return "resize-center";
  }
}

CropSpec parse_crop(const std::string& text) {
  static const std::regex kCenter("center:([0-9]{1,5})");
  static const std::regex kBox("box:([0-9]{1,5}),([0-9]{1,5}),([0-9]{1,5})");
  CropSpec spec;
  std::smatch m;
  if (text == "resize-center") return spec;
  if (std::regex_match(text, m, kCenter)) {
    spec.kind = CropSpec::Kind::kCenter;
    spec.crop = std::stoi(m[1]);
  } else if (std::regex_match(text, m, kBox)) {
    spec.kind = CropSpec::Kind::kBox;
    spec.center_x = std::stoi(m[1]);
    spec.center_y = std::stoi(m[2]);
    spec.crop = std::stoi(m[3]);
  } else {
    throw UsageError(str("--crop '", text, "': expected resize-center, center:S or box:CX,CY,S"));
  }
  if (spec.crop < 1) throw UsageError(str("--crop '", text, "': the crop size must be >= 1"));
  return spec;
}

ResamplePlan plan_transform(const CropSpec& spec, int width, int height, int size,
                            const std::string& path) {
  ResamplePlan p;
  if (spec.kind == CropSpec::Kind::kResizeCenter) {
    // torchvision Resize(size): the shorter side becomes size, the longer int(size * long / short).
    p.src_w = width;
    p.src_h = height;
    if (width <= height) {
      p.full_w = size;
      p.full_h = static_cast<int>(static_cast<int64_t>(size) * height / width);
    } else {
      p.full_h = size;
      p.full_w = static_cast<int>(static_cast<int64_t>(size) * width / height);
    }
    p.out_x = round_half_even((p.full_w - size) / 2.0);
    p.out_y = round_half_even((p.full_h - size) / 2.0);
    return p;
  }
  const int s = spec.crop;
  if (spec.kind == CropSpec::Kind::kCenter) {
    p.src_x = round_half_even((width - s) / 2.0);
    p.src_y = round_half_even((height - s) / 2.0);
  } else {
    p.src_x = spec.center_x - s / 2;
    p.src_y = spec.center_y - s / 2;
  }
  if (p.src_x < 0 || p.src_y < 0 || p.src_x + s > width || p.src_y + s > height)
    throw DataError(str("image ", path, " (", width, "x", height, ") is too small for --crop ",
                        spec.text()));
  p.src_w = p.src_h = s;
  p.full_w = p.full_h = size;
  return p;
}

void Resampler::run(const Image& src, const ResamplePlan& plan, int size, Image& out) {
  const int ch = src.channels;
  make_coeffs(plan.src_w, plan.full_w, plan.out_x, size, horizontal_);
  make_coeffs(plan.src_h, plan.full_h, plan.out_y, size, vertical_);
  // Only the source rows the vertical pass touches are resampled horizontally.
  const int row_lo = vertical_.xmin.front();
  const int row_hi = vertical_.xmin.back() + vertical_.xcount.back();
  rows_.resize(static_cast<size_t>(row_hi - row_lo) * size * ch);
  const size_t src_stride = static_cast<size_t>(src.width) * ch;
  for (int y = row_lo; y < row_hi; ++y) {
    const uint8_t* in = src.pixels.data() + (plan.src_y + y) * src_stride + plan.src_x * ch;
    uint8_t* dst = rows_.data() + static_cast<size_t>(y - row_lo) * size * ch;
    for (int x = 0; x < size; ++x) {
      const int32_t* k = &horizontal_.weights[static_cast<size_t>(x) * horizontal_.ksize];
      const uint8_t* px = in + horizontal_.xmin[x] * ch;
      for (int c = 0; c < ch; ++c) {
        int64_t acc = 1 << (kPrecisionBits - 1);
        for (int t = 0; t < horizontal_.xcount[x]; ++t) acc += px[t * ch + c] * int64_t{k[t]};
        dst[x * ch + c] = clip8(acc);
      }
    }
  }
  out.resize(size, size, ch);
  const size_t row_bytes = static_cast<size_t>(size) * ch;
  for (int y = 0; y < size; ++y) {
    const int32_t* k = &vertical_.weights[static_cast<size_t>(y) * vertical_.ksize];
    const uint8_t* in = rows_.data() + (vertical_.xmin[y] - row_lo) * row_bytes;
    uint8_t* dst = out.pixels.data() + y * row_bytes;
    for (size_t i = 0; i < row_bytes; ++i) {
      int64_t acc = 1 << (kPrecisionBits - 1);
      for (int t = 0; t < vertical_.xcount[y]; ++t) acc += in[t * row_bytes + i] * int64_t{k[t]};
      dst[i] = clip8(acc);
    }
  }
}

void convert_channels(Image& img, int channels) {
  if (img.channels == channels) return;
  const size_t n = static_cast<size_t>(img.width) * img.height;
  std::vector<uint8_t> px(n * channels);
  for (size_t i = 0; i < n; ++i) {
    if (channels == 3) {
      px[i * 3] = px[i * 3 + 1] = px[i * 3 + 2] = img.pixels[i];
    } else {
      const uint8_t* p = &img.pixels[i * 3];
      px[i] = static_cast<uint8_t>((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
    }
  }
  img.pixels.swap(px);
  img.channels = channels;
}

}  // namespace dcgan::prep
