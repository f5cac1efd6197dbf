// verify: sha256 and size of each file, schema and dims, then every image read back through the
// Fletcher32 checksums, and the index/label/attr datasets. inspect: summary + grid PNG.
#include "verify.h"

#include <png.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "dcgan/common/errors.h"
#include "dcgan/common/png.h"
#include "dcgan/common/sha256.h"
#include "dcgan/common/str.h"
#include "dcgan/data/dataset.h"
#include "dcgan/data/shard_file.h"

namespace dcgan::prep {
namespace {

namespace fs = std::filesystem;

void verify_shard(const std::string& dir, const data::ShardEntry& e, const data::Manifest& m,
                  std::vector<std::string>& problems) {
  const std::string path = dir + "/" + e.file;
  if (!fs::exists(path)) {
    problems.push_back(str("shard ", e.file, ": missing"));
    return;
  }
  const auto bytes = static_cast<int64_t>(fs::file_size(path));
  if (bytes != e.bytes)
    problems.push_back(str("shard ", e.file, ": ", bytes, " bytes, the manifest says ", e.bytes));
  if (sha256_file(path) != e.sha256)
    problems.push_back(str("shard ", e.file, ": sha256 differs from the manifest"));
  try {
    data::ShardFile shard(path, e, m);
    const size_t image_bytes = static_cast<size_t>(m.image_size) * m.image_size * m.channels;
    constexpr int64_t kBlock = 1024;
    std::vector<uint8_t> buf(static_cast<size_t>(kBlock) * image_bytes);
    for (int64_t i = 0; i < shard.count(); i += kBlock)
      shard.read_range(i, std::min(kBlock, shard.count() - i), buf.data());
    if (static_cast<int64_t>(shard.read_index().size()) != e.count)
      problems.push_back(
          str("shard ", e.file, ": dataset 'index' is missing or has the wrong length"));
    shard.read_filenames();
    shard.read_labels();
    if (!m.attr_names.empty() && static_cast<int64_t>(shard.read_attrs().size()) !=
                                     e.count * static_cast<int64_t>(m.attr_names.size()))
      problems.push_back(
          str("shard ", e.file, ": dataset 'attrs' is missing or has the wrong size"));
  } catch (const Error& err) {
    problems.push_back(err.what());
  }
}

}  // namespace

std::vector<std::string> verify_dataset(const std::string& dir) {
  const data::Manifest m = data::read_manifest(dir);
  std::vector<std::string> problems;
  for (const auto& e : m.shards) verify_shard(dir, e, m, problems);
  return problems;
}

void verify_and_print(const std::string& dir) {
  const std::vector<std::string> problems = verify_dataset(dir);
  for (const auto& p : problems) std::printf("FAIL %s\n", p.c_str());
  if (!problems.empty())
    throw DataError(str(dir, ": ", problems.size(), " problem(s), first: ", problems.front()));
  std::printf("OK %s\n", dir.c_str());
}

std::string inspect_dataset(const std::string& dir, const std::string& grid_png) {
  data::ShardDataset ds(dir);
  const data::Manifest& m = ds.manifest();
  std::string out = str("data set   ", dir, "\nsource     ", m.source, " (crop ", m.crop, ")\n",
                        "images     ", m.total, " of ", m.image_size, "x", m.image_size, "x",
                        m.channels, ", skipped ", m.skipped, "\nattributes ", m.attr_names.size(),
                        "\n", "shards     ", m.shards.size(), "\n");
  for (const auto& s : m.shards)
    out += str("  ", s.file, "  ", s.count, " images  ", s.bytes, " bytes\n");
  out += str("tool       ", m.tool_version, "\ncommand    ", m.command, "\n");
  if (grid_png.empty()) return out;
  constexpr int kGrid = 8;
  const int64_t n = std::min<int64_t>(kGrid * kGrid, ds.image_count());
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  std::vector<uint8_t> images(static_cast<size_t>(n) * ds.image_bytes());
  ds.read(idx.data(), idx.size(), images.data());
  const int s = m.image_size, c = m.channels, side = kGrid * s;
  std::vector<uint8_t> grid(static_cast<size_t>(side) * side * c, 0);
  for (int64_t i = 0; i < n; ++i) {
    const int gx = static_cast<int>(i % kGrid) * s, gy = static_cast<int>(i / kGrid) * s;
    for (int y = 0; y < s; ++y)
      std::copy_n(&images[(static_cast<size_t>(i) * s + y) * s * c], static_cast<size_t>(s) * c,
                  &grid[(static_cast<size_t>(gy + y) * side + gx) * c]);
  }
  write_png_file(grid_png, grid.data(), side, side, c);
  return out + str("grid       ", grid_png, " (", n, " images)\n");
}

}  // namespace dcgan::prep
