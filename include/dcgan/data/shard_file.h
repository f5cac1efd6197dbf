// One open shard file (read-only): checks its schema against the manifest entry, then reads images
// and metadata. The building block of ShardDataset and of `dcgan-prep verify`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dcgan/data/dataset.h"
#include "dcgan/data/h5.h"

namespace dcgan::data {

class ShardFile {
 public:
  // Opens `path` read-only and checks dims/attributes against `entry` and `manifest` before any
  // allocation. Throws DataError naming the shard.
  ShardFile(const std::string& path, const ShardEntry& entry, const Manifest& manifest);
  ShardFile(ShardFile&&) noexcept = default;
  ShardFile& operator=(ShardFile&&) noexcept = default;

  const std::string& path() const { return path_; }
  int64_t count() const { return count_; }

  // Reads images [first, first + n) into out (n * image_bytes). A checksum failure throws
  // DataError naming the shard and the image.
  void read_range(int64_t first, int64_t n, uint8_t* out);
  // Reads one image `local_idx` into out.
  void read_one(int64_t local_idx, uint8_t* out);

  std::vector<int64_t> read_index();
  std::vector<int64_t> read_labels();  // empty when the shard has none
  std::vector<int8_t> read_attrs();    // [count, attrs]; empty when none
  std::vector<std::string> read_filenames();

 private:
  void read_selection(int64_t first, int64_t n, uint8_t* out);

  std::string path_;
  int64_t count_ = 0;
  size_t image_bytes_ = 0;
  int attr_count_ = 0;
  h5::Id file_;
  h5::Id images_;
  h5::Id file_space_;  // cached dataspace of `images` for hyperslab selections
  h5::Id one_space_;   // memory dataspace of one image
};

}  // namespace dcgan::data
