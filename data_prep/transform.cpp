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
      c.weights[static_cast<size_t>(i) * c.ksize + x] = static_cast<int32_t>(
          w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.xmin[i] = lo;
    c.xcount[i] = hi - lo;
  }
  c.in_size = in_size;
  c.full = full;
  c.first = first;
  c.count = count;
}

inline uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Python's round(): halves go to the even neighbour (torchvision's CenterCrop uses it).
int round_half_even(double v) { return static_cast<int>(std::nearbyint(v)); }

}  // namespace

std::string CropSpec::text() const {
  switch (kind) {
    case Kind::kCenter:
      return str("center:", crop);
    case Kind::kBox:
      return str("box:", center_x, ",", center_y, ",", crop);
    default:
      return "resize-center";
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
    throw DataError(
        str("image ", path, " (", width, "x", height, ") is too small for --crop ", spec.text()));
  p.src_w = p.src_h = s;
  p.full_w = p.full_h = size;
  return p;
}

namespace {

// One horizontal output row: channels fixed at compile time so the tap loop keeps all channels
// in registers. 32-bit sums are exact: the weights add up to 1 << kPrecisionBits.
template <int C>
void horizontal_row(const uint8_t* __restrict in, const Resampler::Coeffs& h, int size,
                    uint8_t* __restrict dst) {
  for (int x = 0; x < size; ++x) {
    const int32_t* k = &h.weights[static_cast<size_t>(x) * h.ksize];
    const uint8_t* px = in + h.xmin[x] * C;
    int32_t acc[C];
    for (int c = 0; c < C; ++c) acc[c] = 1 << (kPrecisionBits - 1);
    const int taps = h.xcount[x];
    for (int t = 0; t < taps; ++t, px += C)
      for (int c = 0; c < C; ++c) acc[c] += px[c] * k[t];
    for (int c = 0; c < C; ++c) dst[x * C + c] = clip8(acc[c]);
  }
}

// One vertical output row of n values from `taps` source rows `stride` apart. Built for AVX2 too
// (picked at load time): 32-bit multiplies vectorise poorly on baseline x86-64.
__attribute__((target_clones("avx2", "default"))) void vertical_row(const uint8_t* __restrict in,
                                                                    size_t stride, const int32_t* k,
                                                                    int taps, size_t n,
                                                                    int32_t* __restrict acc,
                                                                    uint8_t* __restrict out) {
  for (size_t i = 0; i < n; ++i) acc[i] = 1 << (kPrecisionBits - 1);
  for (int t = 0; t < taps; ++t) {
    const uint8_t* __restrict line = in + t * stride;
    const int32_t w = k[t];
    for (size_t i = 0; i < n; ++i) acc[i] += line[i] * w;
  }
  for (size_t i = 0; i < n; ++i) out[i] = clip8(acc[i]);
}

}  // namespace

void Resampler::run(const Image& src, const ResamplePlan& plan, int size, Image& out) {
  const int ch = src.channels;
  make_coeffs(plan.src_w, plan.full_w, plan.out_x, size, horizontal_);
  make_coeffs(plan.src_h, plan.full_h, plan.out_y, size, vertical_);
  // Vertical pass first (Pillow goes horizontal first): its rows are contiguous, so the sums
  // vectorise, and the scalar horizontal pass then runs on `size` rows instead of ~3x as many.
  // The one extra rounding of the intermediate rows moves a value by at most 1 from Pillow's.
  // Only the source columns the horizontal pass touches are computed.
  const int col_lo = horizontal_.xmin.front();
  const int col_hi = horizontal_.xmin.back() + horizontal_.xcount.back();
  const size_t mid_bytes = static_cast<size_t>(col_hi - col_lo) * ch;
  const size_t src_stride = static_cast<size_t>(src.width) * ch;
  const uint8_t* base = src.pixels.data() + static_cast<size_t>(plan.src_y) * src_stride +
                        static_cast<size_t>(plan.src_x + col_lo) * ch;
  rows_.resize(static_cast<size_t>(size) * mid_bytes);
  acc_.resize(mid_bytes);
  out.resize(size, size, ch);
  for (int y = 0; y < size; ++y) {
    const int32_t* k = &vertical_.weights[static_cast<size_t>(y) * vertical_.ksize];
    const uint8_t* in = base + static_cast<size_t>(vertical_.xmin[y]) * src_stride;
    uint8_t* mid = rows_.data() + y * mid_bytes;
    vertical_row(in, src_stride, k, vertical_.xcount[y], mid_bytes, acc_.data(), mid);
    uint8_t* dst = out.pixels.data() + static_cast<size_t>(y) * size * ch;
    const uint8_t* row = mid - static_cast<size_t>(col_lo) * ch;  // xmin is window-relative
    if (ch == 3)
      horizontal_row<3>(row, horizontal_, size, dst);
    else
      horizontal_row<1>(row, horizontal_, size, dst);
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
