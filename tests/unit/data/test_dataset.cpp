// The reader refuses what it must: missing or malformed manifests, absurd dimensions, shards that
// disagree with the manifest; and reads a hand-written shard correctly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "dcgan/common/check.h"
#include "dcgan/common/errors.h"
#include "dcgan/data/dataset.h"
#include "dcgan/data/h5.h"
#include "dcgan/data/schema.h"
#include "support/test_support.h"

namespace dcgan::data {
namespace {

using h5::Id;

// A minimal valid shard written with the raw HDF5 API: images[i] filled with value i.
void write_shard(const std::string& path, hsize_t n, hsize_t size, hsize_t channels,
                 long long attr_size) {
  h5::init();
  Id file = H5_ID(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  const hsize_t dims[4] = {n, size, size, channels};
  Id space = H5_ID(H5Screate_simple(4, dims, nullptr));
  Id dset = H5_ID(H5Dcreate2(file.get(), "images", H5T_STD_U8LE, space.get(), H5P_DEFAULT,
                             H5P_DEFAULT, H5P_DEFAULT));
  std::vector<uint8_t> px(n * size * size * channels);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i / (size * size * channels));
  H5_CHECK(H5Dwrite(dset.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, px.data()));
  h5::write_attr_int(file.get(), "schema_version", kSchemaVersion);
  h5::write_attr_int(file.get(), "count", static_cast<long long>(n));
  h5::write_attr_int(file.get(), "size", attr_size);
  h5::write_attr_int(file.get(), "channels", static_cast<long long>(channels));
}

Manifest manifest_for(int64_t count, int size, int channels) {
  Manifest m;
  m.image_size = size;
  m.channels = channels;
  m.total = count;
  m.shards.push_back({"shard-00000.h5", count, 1000, std::string(64, 'a')});
  m.source = "synthetic";
  m.crop = "resize-center";
  return m;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string data_error(const std::string& dir) {
  try {
    ShardDataset ds(dir);
  } catch (const DataError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(ShardDataset, ReadsAHandWrittenShard) {
  test::ScratchDir dir("data");
  write_shard(dir / "shard-00000.h5", 5, 4, 3, 4);
  write_text(dir / "manifest.json", schema::manifest_to_json(manifest_for(5, 4, 3)));
  ShardDataset ds(dir.path());
  EXPECT_EQ(ds.image_count(), 5);
  EXPECT_EQ(ds.image_bytes(), 48u);
  const int64_t idx[2] = {4, 1};
  std::vector<uint8_t> out(96);
  ds.read(idx, 2, out.data());
  EXPECT_EQ(out[0], 4);
  EXPECT_EQ(out[47], 4);
  EXPECT_EQ(out[48], 1);
  EXPECT_TRUE(ds.read_labels(0).empty());
  EXPECT_EQ(ds.read_shard_images(0).size(), 5u * 48);
  EXPECT_THROW(ds.read_shard_images(1), DataError);
}

TEST(ShardDataset, ManifestRoundTripsThroughJson) {
  Manifest m = manifest_for(5, 64, 3);
  m.attr_names = {"Smiling", "Young"};
  m.skipped = 2;
  m.command = "dcgan-prep pack --source synthetic";
  const Manifest back = schema::manifest_from_json(schema::manifest_to_json(m), "x");
  EXPECT_EQ(back.attr_names, m.attr_names);
  EXPECT_EQ(back.skipped, 2);
  EXPECT_EQ(back.shards[0].sha256, m.shards[0].sha256);
  EXPECT_EQ(back.command, m.command);
}

TEST(ShardDataset, RefusesBadManifests) {
  test::ScratchDir dir("data");
  EXPECT_NE(data_error(dir.path()).find("manifest.json is missing"), std::string::npos);
  write_text(dir / "manifest.json", "{not json");
  EXPECT_NE(data_error(dir.path()).find("not valid JSON"), std::string::npos);
  const std::string good = schema::manifest_to_json(manifest_for(5, 4, 3));
  auto mutate = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    write_text(dir / "manifest.json", text.replace(at, from.size(), to));
    return data_error(dir.path());
  };
  EXPECT_NE(mutate("\"size\": 4", "\"size\": 1000000").find("'size' = 1000000"), std::string::npos);
  EXPECT_NE(mutate("\"channels\": 3", "\"channels\": 2").find("'channels' = 2"), std::string::npos);
  EXPECT_NE(mutate("\"total\": 5", "\"total\": 6").find("add up to 5"), std::string::npos);
  EXPECT_NE(mutate("\"count\": 5", "\"count\": -1").find("'count' = -1"), std::string::npos);
  EXPECT_NE(mutate("shard-00000.h5", "../etc/x.h5").find("not shard-NNNNN.h5"), std::string::npos);
  EXPECT_NE(mutate("\"schema_version\": 1", "\"schema_version\": 9").find("schema_version 9"),
            std::string::npos);
  EXPECT_NE(mutate("\"crop\"", "\"crap\"").find("missing field 'crop'"), std::string::npos);
  EXPECT_NE(mutate("\"total\": 5", "\"total\": \"5\"").find("'total' has the wrong type"),
            std::string::npos);
  // Numbers are JSON integers in range before anything narrows them: a float (1e40 was undefined
  // behaviour under UBSan, found by fuzz_manifest), or 2^32 + 4, which an int cast made size 4.
  EXPECT_NE(
      mutate("\"schema_version\": 1", "\"schema_version\": 1e40")
          .find("manifest.json: field 'schema_version' has the wrong type (expected an integer)"),
      std::string::npos);
  EXPECT_NE(mutate("\"total\": 5", "\"total\": 5.0").find("'total' has the wrong type"),
            std::string::npos);
  EXPECT_NE(mutate("\"size\": 4", "\"size\": 4294967300")
                .find("field 'size' = 4294967300 is outside [1, 4096]"),
            std::string::npos);
  EXPECT_NE(mutate("\"count\": 5", "\"count\": 18446744073709551615")
                .find("field 'count' = 18446744073709551615 is outside [0, 2147483648]"),
            std::string::npos);
}

TEST(ShardDataset, RefusesShardsThatDisagreeWithTheManifest) {
  test::ScratchDir dir("data");
  write_text(dir / "manifest.json", schema::manifest_to_json(manifest_for(5, 4, 3)));
  EXPECT_NE(data_error(dir.path()).find("shard-00000.h5 is missing"), std::string::npos);
  write_text(dir / "shard-00000.h5", "garbage");
  EXPECT_NE(data_error(dir.path()).find("not a readable HDF5 file"), std::string::npos);
  // A crafted shard claiming absurd dimensions in its attributes is refused before any read.
  write_shard(dir / "shard-00000.h5", 5, 4, 3, /*attr_size=*/1 << 30);
  EXPECT_NE(data_error(dir.path()).find("disagree with the manifest"), std::string::npos);
  // Dataset dims differing from the manifest (here 2 images in a shard listed with 5).
  write_shard(dir / "shard-00000.h5", 2, 4, 3, 4);
  Manifest m = manifest_for(2, 4, 3);
  write_text(dir / "manifest.json", schema::manifest_to_json(m));
  EXPECT_EQ(data_error(dir.path()), "accepted");
  m.shards[0].count = m.total = 5;
  write_text(dir / "manifest.json", schema::manifest_to_json(m));
  EXPECT_NE(data_error(dir.path()).find("disagree"), std::string::npos);
}

}  // namespace
}  // namespace dcgan::data
