// One worker's decode -> crop/resize -> image_size x image_size x channels path, shared by pack and
// the tests.
#pragma once

#include <cstdint>
#include <string>

#include "image.h"
#include "sources.h"
#include "transform.h"

namespace dcgan::prep {

struct PipelineOptions {
  int image_size = 64;  // side length of the output
  int channels = 3;
  CropSpec crop;
  bool jpeg_dct_scaling = false;  // resize-center only; see ImageDecoder::set_jpeg_min_short_side
};

class Pipeline {
 public:
  explicit Pipeline(const PipelineOptions& options);
  // Item of a source / an image file, into dst (image_size * image_size * channels bytes). Throws
  // DataError naming the file for bad input.
  void run(const Source& source, int64_t item, uint8_t* dst);
  void run_file(const std::string& path, uint8_t* dst);

 private:
  void finish(const std::string& name, uint8_t* dst);

  PipelineOptions o_;
  ImageDecoder decoder_;
  Resampler resampler_;
  Image image_, scaled_;
};

}  // namespace dcgan::prep
