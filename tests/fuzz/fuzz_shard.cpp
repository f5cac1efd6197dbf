// libFuzzer: an HDF5 shard file opened and read through the reader (ShardFile), checked against
// a manifest entry for 4 images of 8x8x1 with labels, as `dcgan-prep pack` writes them.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "dcgan/common/errors.h"
#include "dcgan/data/dataset.h"
#include "dcgan/data/shard_file.h"

namespace {

// HDF5 reads files by name: one scratch file per process, in $TMPDIR, removed when the fuzzer
// exits (a crash leaves it beside the crash's own input, which is what a reproduction needs).
struct ScratchFile {
  ScratchFile() {
    const char* dir = std::getenv("TMPDIR");
    path = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/dcgan-fuzz-shard-" +
           std::to_string(::getpid()) + ".h5";
  }
  ~ScratchFile() { std::remove(path.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  std::string path;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ScratchFile scratch;
  const std::string& path = scratch.path;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  dcgan::data::Manifest manifest;
  manifest.image_size = 8;
  manifest.channels = 1;
  manifest.total = 4;
  const dcgan::data::ShardEntry entry{"shard-00000.h5", 4, static_cast<int64_t>(size), ""};
  manifest.shards.push_back(entry);
  try {
    dcgan::data::ShardFile shard(path, entry, manifest);
    std::vector<uint8_t> pixels(static_cast<size_t>(shard.count()) * 8 * 8);
    shard.read_range(0, shard.count(), pixels.data());
    shard.read_one(shard.count() - 1, pixels.data());
    (void)shard.read_index();
    (void)shard.read_labels();
    (void)shard.read_filenames();
  } catch (const dcgan::Error&) {
  }
  return 0;
}
