// Writes one shard-NNNNN.h5 deterministically (no timestamps, fixed call sequence): images are
// appended block by block; index/filenames/labels/attrs are written at finish().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dcgan/data/dataset.h"
#include "dcgan/data/h5.h"

namespace dcgan::prep {

struct ShardLayout {
  int image_size = 64;  // side length
  int channels = 3;
  int attr_count = 0;  // 0: no attrs dataset
  bool has_labels = false;
  int chunk_images = 1;  // images per HDF5 chunk (each chunk carries a Fletcher32 checksum)
  std::string source;    // shard attributes
  std::string crop;
};

class ShardWriter {
 public:
  // Creates `<final_path>.partial`; finish() renames it to final_path.
  ShardWriter(const std::string& final_path, const ShardLayout& layout);
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Appends n images (n * H * W * C bytes) with their metadata (labels: n, attrs: n * attr_count).
  void append(const uint8_t* images, int64_t n, const int64_t* index,
              const std::vector<std::string>& names, const int64_t* labels, const int8_t* attrs);

  // Writes metadata, closes, renames into place and returns {file, count, bytes, sha256}.
  data::ShardEntry finish();

 private:
  void write_metadata();

  std::string final_path_, partial_path_;
  ShardLayout layout_;
  int64_t count_ = 0;
  std::vector<int64_t> index_, labels_;
  std::vector<int8_t> attrs_;
  std::vector<std::string> names_;
  data::h5::Id file_, images_;
};

}  // namespace dcgan::prep
