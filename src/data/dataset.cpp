// ShardDataset: the data set opened by its manifest, reading any index list into a caller buffer.
#include "dcgan/data/dataset.h"

#include <algorithm>
#include <cstring>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "dcgan/data/h5.h"
#include "dcgan/data/shard_file.h"

namespace dcgan::data {

struct ShardDataset::Impl {
  Manifest manifest;
  std::string dir;
  size_t image_bytes = 0;
  std::vector<ShardFile> shards;
  std::vector<int64_t> first;                // global index of each shard's first image
  std::vector<std::vector<uint8_t>> cached;  // per shard, filled by cache_in_memory()

  // Shard and local position of global image `idx`.
  std::pair<size_t, int64_t> locate(int64_t idx) const {
    if (idx < 0 || idx >= manifest.total)
      throw DataError(str("image index ", idx, " is outside the data set '", dir, "' of ",
                          manifest.total, " images"));
    const auto it = std::upper_bound(first.begin(), first.end(), idx);
    const size_t shard = static_cast<size_t>(it - first.begin()) - 1;
    return {shard, idx - first[shard]};
  }

  ShardFile& shard(int shard_idx) {
    if (shard_idx < 0 || static_cast<size_t>(shard_idx) >= shards.size())
      throw DataError(
          str("shard index ", shard_idx, " is outside [0, ", shards.size(), ") in '", dir, "'"));
    return shards[static_cast<size_t>(shard_idx)];
  }
};

ShardDataset::ShardDataset(const std::string& dir) : impl_(std::make_unique<Impl>()) {
  impl_->dir = dir;
  impl_->manifest = read_manifest(dir);  // validated: dims and counts are bounded
  const Manifest& m = impl_->manifest;
  impl_->image_bytes = static_cast<size_t>(m.image_size) * m.image_size * m.channels;
  int64_t next = 0;
  for (const auto& entry : m.shards) {
    impl_->first.push_back(next);
    next += entry.count;
    impl_->shards.emplace_back(dir + "/" + entry.file, entry, m);
  }
  impl_->cached.resize(m.shards.size());
}

ShardDataset::~ShardDataset() = default;
ShardDataset::ShardDataset(ShardDataset&&) noexcept = default;
ShardDataset& ShardDataset::operator=(ShardDataset&&) noexcept = default;

const Manifest& ShardDataset::manifest() const { return impl_->manifest; }
int64_t ShardDataset::image_count() const { return impl_->manifest.total; }
size_t ShardDataset::image_bytes() const { return impl_->image_bytes; }
int ShardDataset::image_size() const { return impl_->manifest.image_size; }
int ShardDataset::channels() const { return impl_->manifest.channels; }

void ShardDataset::read(const int64_t* indices, size_t n, uint8_t* out) {
  h5::init();  // HDF5's error printing is per thread: keep it off on a loader thread too
  const size_t bytes = impl_->image_bytes;
  for (size_t i = 0; i < n; ++i) {
    const auto [shard, local] = impl_->locate(indices[i]);
    uint8_t* dst = out + i * bytes;
    const auto& cache = impl_->cached[shard];
    if (!cache.empty()) {
      std::memcpy(dst, cache.data() + static_cast<size_t>(local) * bytes, bytes);
    } else {
      impl_->shards[shard].read_one(local, dst);
    }
  }
}

void ShardDataset::cache_in_memory() {
  for (size_t s = 0; s < impl_->shards.size(); ++s) {
    if (impl_->cached[s].empty()) impl_->cached[s] = read_shard_images(static_cast<int>(s));
  }
}

std::vector<int64_t> ShardDataset::read_labels(int shard_idx) {
  return impl_->shard(shard_idx).read_labels();
}

std::vector<int8_t> ShardDataset::read_attrs(int shard_idx) {
  return impl_->shard(shard_idx).read_attrs();
}

std::vector<uint8_t> ShardDataset::read_shard_images(int shard_idx) {
  h5::init();
  ShardFile& shard = impl_->shard(shard_idx);
  std::vector<uint8_t> out(static_cast<size_t>(shard.count()) * impl_->image_bytes);
  shard.read_range(0, shard.count(), out.data());
  return out;
}

}  // namespace dcgan::data
