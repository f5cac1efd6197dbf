// The crop + resize transforms of `--crop`, reproducing PIL's Image.resize(BILINEAR) (an
// antialiased triangle filter when downscaling, fixed-point like PIL) so packed pixels match what
// a torchvision pipeline feeds a model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "image.h"

namespace dcgan::prep {

struct CropSpec {
  enum class Kind { kResizeCenter, kCenter, kBox };
  Kind kind = Kind::kResizeCenter;
  int crop = 0;              // S of center:S and box:CX,CY,S
  int center_x = 0;          // CX of box
  int center_y = 0;          // CY of box
  std::string text() const;  // the canonical spelling, stored in shards and the manifest
};

// Parses "resize-center", "center:S" or "box:CX,CY,S"; throws UsageError naming --crop.
CropSpec parse_crop(const std::string& text);

// Where the output comes from: the source window (after any crop), the full resized size, and
// the output's offset inside it (resize-center crops after resizing).
struct ResamplePlan {
  int src_x = 0, src_y = 0, src_w = 0, src_h = 0;  // window of the decoded image
  int full_w = 0, full_h = 0;                      // size the window is resized to
  int out_x = 0, out_y = 0;                        // top-left of the size x size output in it
};

// Plans `spec` for a source of width x height; throws DataError naming `path` when a crop box
// does not fit the image.
ResamplePlan plan_transform(const CropSpec& spec, int width, int height, int size,
                            const std::string& path);

// PIL-equivalent separable resampler; caches filter coefficients between calls. Not thread-safe.
class Resampler {
 public:
  // Computes the size x size output of `plan` from `src` into `out` (same channel count).
  void run(const Image& src, const ResamplePlan& plan, int size, Image& out);

  struct Coeffs {
    int in_size = -1, full = -1, first = -1, count = -1;
    int ksize = 0;
    std::vector<int> xmin, xcount;  // taps per output position, relative to the window
    std::vector<int32_t> weights;   // [count, ksize], fixed point with kPrecisionBits
  };

 private:
  Coeffs horizontal_, vertical_;
  std::vector<uint8_t> rows_;  // horizontally resampled rows
  std::vector<int32_t> acc_;   // one output row of vertical sums
};

// Converts `img` to `channels` in place: 3 -> 1 with PIL's "L" weights, 1 -> 3 by replication.
void convert_channels(Image& img, int channels);

}  // namespace dcgan::prep
