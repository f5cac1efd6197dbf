// decode -> plan -> PIL-equivalent resample -> copy out, with DCT-scaled JPEGs planned from their
// original dimensions (as PIL would see the file).
#include "pipeline.h"

#include <cstring>

namespace dcgan::prep {

Pipeline::Pipeline(const PipelineOptions& options) : o_(options) {
  const bool dct = o_.jpeg_dct_scaling && o_.crop.kind == CropSpec::Kind::kResizeCenter;
  decoder_.set_jpeg_min_short_side(dct ? o_.image_size : 0);
}

void Pipeline::run(const Source& source, int64_t item, uint8_t* dst) {
  decoder_.clear_last();
  source.load(item, o_.channels, decoder_, image_);
  finish(source.name(item), dst);
}

void Pipeline::run_file(const std::string& path, uint8_t* dst) {
  decoder_.clear_last();
  decoder_.decode_file(path, o_.channels, image_);
  finish(path, dst);
}

void Pipeline::finish(const std::string& name, uint8_t* dst) {
  const bool scaled = decoder_.last_scaled();
  const int full_w = scaled ? decoder_.last_full_width() : image_.width;
  const int full_h = scaled ? decoder_.last_full_height() : image_.height;
  ResamplePlan plan = plan_transform(o_.crop, full_w, full_h, o_.image_size, name);
  if (scaled) {  // resample the DCT-scaled pixels to the sizes planned for the original
    plan.src_w = image_.width;
    plan.src_h = image_.height;
  }
  const size_t bytes = static_cast<size_t>(o_.image_size) * o_.image_size * o_.channels;
  if (plan.src_x == 0 && plan.src_y == 0 && plan.src_w == o_.image_size &&
      plan.src_h == o_.image_size && plan.full_w == o_.image_size && plan.full_h == o_.image_size) {
    std::memcpy(dst, image_.pixels.data(), bytes);  // already the output size
    return;
  }
  resampler_.run(image_, plan, o_.image_size, scaled_);
  std::memcpy(dst, scaled_.pixels.data(), bytes);
}

}  // namespace dcgan::prep
