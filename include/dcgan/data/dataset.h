// ShardDataset: the one reader of packed shards (manifest.json + shard-NNNNN.h5), used by the
// trainer, the tests and `dcgan-prep verify`. Knows HDF5 and the manifest; no torch, no MPI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dcgan::data {

inline constexpr int kSchemaVersion = 1;

struct ShardEntry {
  std::string file;    // file name relative to the data set directory
  int64_t count = 0;   // images in this shard
  int64_t bytes = 0;   // file size
  std::string sha256;  // hex digest of the whole file
};

struct Manifest {
  int schema_version = kSchemaVersion;
  std::vector<ShardEntry> shards;
  int64_t total = 0;
  int image_size = 0;                   // side length: images are image_size x image_size
  int channels = 0;                     // 1 or 3
  std::vector<std::string> attr_names;  // empty unless the source had attributes (CelebA)
  int64_t skipped = 0;                  // unreadable inputs left out at pack time
  std::string source;                   // celeba | folder | idx | synthetic
  std::string crop;                     // transform spec, e.g. "resize-center"
  std::string command;                  // the dcgan-prep command line that made it
  std::string tool_version;
};

// Parses and validates <dir>/manifest.json. Throws DataError naming the file and field.
Manifest read_manifest(const std::string& dir);

class ShardDataset {
 public:
  // Opens the data set by its manifest; validates schema and dimensions before allocating.
  // Files are opened read-only with HDF5 file locking off (NFS/Lustre).
  explicit ShardDataset(const std::string& dir);
  ~ShardDataset();
  ShardDataset(ShardDataset&&) noexcept;
  ShardDataset& operator=(ShardDataset&&) noexcept;
  ShardDataset(const ShardDataset&) = delete;
  ShardDataset& operator=(const ShardDataset&) = delete;

  const Manifest& manifest() const;
  int64_t image_count() const;  // total images
  size_t image_bytes() const;   // size * size * channels
  int image_size() const;       // height == width
  int channels() const;

  // Reads images `indices[0..n)` (global positions, 0..size()) into `out`, HWC uint8 each,
  // out[i * image_bytes()]. A checksum failure throws DataError naming the shard.
  // Not thread-safe: one reader per thread.
  void read(const int64_t* indices, size_t n, uint8_t* out);

  // Loads every shard into memory; later reads are memcpy.
  void cache_in_memory();

  // Per-image metadata, read on demand; empty when the data set has none.
  std::vector<int64_t> read_labels(int shard_idx);
  std::vector<int8_t> read_attrs(int shard_idx);          // [count, attr_names.size()]
  std::vector<uint8_t> read_shard_images(int shard_idx);  // the whole shard, [count, H, W, C]

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dcgan::data
