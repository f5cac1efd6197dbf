// pack end to end in process: every source round-trips through the reader, CelebA layouts and
// splits, bad images, determinism across workers, corruption detection, --out safety.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "celeba_fixture.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/png.h"
#include "dcgan/data/dataset.h"
#include "dcgan/data/shard_file.h"
#include "pack.h"
#include "pipeline.h"
#include "support/test_support.h"
#include "verify.h"

namespace dcgan::prep {
namespace {

namespace fs = std::filesystem;

PackOptions options(const std::string& kind, const std::string& input, const std::string& out) {
  PackOptions o;
  o.source.kind = kind;
  o.source.input = input;
  o.out = out;
  o.image_size = 32;
  o.workers = 2;
  o.progress = false;
  return o;
}

PackSummary run_pack(PackOptions o) {
  o.source.image_size = o.image_size;
  LocalComm comm;
  return pack(o, comm);
}

std::vector<uint8_t> read_all(data::ShardDataset& ds) {
  std::vector<int64_t> idx(static_cast<size_t>(ds.image_count()));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
  std::vector<uint8_t> out(idx.size() * ds.image_bytes());
  ds.read(idx.data(), idx.size(), out.data());
  return out;
}

std::string expect_data_error(const std::function<void()>& body) {
  try {
    body();
  } catch (const DataError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DataError";
  return "";
}

TEST(PackSynthetic, RoundTripPixelsAndShardSplit) {
  test::ScratchDir dir("prep");
  auto o = options("synthetic", "", dir / "out");
  o.source.count = 25;
  o.source.seed = 7;
  o.images_per_shard = 10;
  const auto summary = run_pack(o);
  EXPECT_EQ(summary.written, 25);
  data::ShardDataset ds(dir / "out");
  ASSERT_EQ(ds.manifest().shards.size(), 3u);
  EXPECT_EQ(ds.manifest().shards[2].count, 5);
  const auto all = read_all(ds);
  Image expected;
  for (int i : {0, 9, 10, 24}) {
    synthetic_image(7, i, 32, 3, expected);
    EXPECT_TRUE(std::equal(expected.pixels.begin(), expected.pixels.end(),
                           all.begin() + i * ds.image_bytes()))
        << "image " << i;
  }
  // Random order through the reader equals the sequential read; so does the in-memory cache.
  const int64_t picks[3] = {24, 3, 11};
  std::vector<uint8_t> some(3 * ds.image_bytes());
  ds.read(picks, 3, some.data());
  EXPECT_TRUE(std::equal(some.begin(), some.begin() + ds.image_bytes(),
                         all.begin() + 24 * ds.image_bytes()));
  ds.cache_in_memory();
  std::vector<uint8_t> cached(3 * ds.image_bytes());
  ds.read(picks, 3, cached.data());
  EXPECT_EQ(cached, some);
  const int64_t bad = 25;
  EXPECT_THROW(ds.read(&bad, 1, some.data()), DataError);
  EXPECT_TRUE(verify_dataset(dir / "out").empty());
}

void write_gz(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

TEST(PackIdx, GzImagesAndLabelsRoundTrip) {
  test::ScratchDir dir("prep");
  const int n = 12, h = 28, w = 28;
  std::vector<uint8_t> images = {0, 0, 8, 3, 0, 0, 0, n, 0, 0, 0, h, 0, 0, 0, w};
  for (int i = 0; i < n * h * w; ++i) images.push_back(static_cast<uint8_t>(i * 7 % 251));
  std::vector<uint8_t> labels = {0, 0, 8, 1, 0, 0, 0, n};
  for (int i = 0; i < n; ++i) labels.push_back(static_cast<uint8_t>(i % 10));
  write_gz(dir / "img.gz", images);
  write_gz(dir / "lab.gz", labels);
  auto o = options("idx", dir / "img.gz", dir / "out");
  o.source.labels = dir / "lab.gz";
  o.image_size = 28;
  o.channels = 1;
  run_pack(o);
  data::ShardDataset ds(dir / "out");
  EXPECT_EQ(ds.image_count(), n);
  EXPECT_EQ(ds.channels(), 1);
  const auto all = read_all(ds);
  EXPECT_TRUE(std::equal(all.begin(), all.end(), images.begin() + 16));
  const auto got = ds.read_labels(0);
  ASSERT_EQ(got.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) EXPECT_EQ(got[static_cast<size_t>(i)], i % 10);
  // Label count mismatch is a data error naming the file.
  labels[7] = n - 1;
  write_gz(dir / "lab.gz", labels);
  o.overwrite = true;
  EXPECT_NE(expect_data_error([&] { run_pack(o); }).find("lab.gz"), std::string::npos);
}

// Without --labels (the first command many people type) the shards store no labels.
TEST(PackIdx, ImagesWithoutLabelsPackWithNoLabelsStored) {
  test::ScratchDir dir("prep");
  const int n = 5, h = 4, w = 3;
  std::vector<uint8_t> images = {0, 0, 8, 3, 0, 0, 0, n, 0, 0, 0, h, 0, 0, 0, w};
  for (int i = 0; i < n * h * w; ++i) images.push_back(static_cast<uint8_t>(200 - i));
  write_gz(dir / "img.gz", images);
  auto o = options("idx", dir / "img.gz", dir / "out");
  o.image_size = 4;
  o.channels = 1;
  EXPECT_EQ(run_pack(o).written, n);
  data::ShardDataset ds(dir / "out");
  ASSERT_EQ(ds.image_count(), n);
  EXPECT_TRUE(ds.read_labels(0).empty());
  const auto all = read_all(ds);
  ASSERT_EQ(all.size(), static_cast<size_t>(n * 4 * 4));
  EXPECT_TRUE(verify_dataset(dir / "out").empty());
}

TEST(PackFolder, ClassesAreFirstLevelSubfolders) {
  test::ScratchDir dir("prep");
  for (const char* cls : {"cat", "dog"})
    fs::create_directories(dir / (std::string("in/") + cls + "/sub"));
  Image img;
  const char* files[] = {"in/cat/a.png", "in/cat/sub/b.png", "in/dog/c.png"};
  for (int i = 0; i < 3; ++i) {
    synthetic_image(1, i, 32, 3, img);
    write_png_file(dir / files[i], img.pixels.data(), 32, 32, 3);
  }
  run_pack(options("folder", dir / "in", dir / "out"));
  data::ShardDataset ds(dir / "out");
  ASSERT_EQ(ds.image_count(), 3);
  EXPECT_EQ(ds.read_labels(0), (std::vector<int64_t>{0, 0, 1}));
  const auto all = read_all(ds);
  synthetic_image(1, 2, 32, 3, img);
  EXPECT_TRUE(std::equal(img.pixels.begin(), img.pixels.end(), all.begin() + 2 * ds.image_bytes()));
  data::ShardFile shard(dir / "out/shard-00000.h5", ds.manifest().shards[0], ds.manifest());
  EXPECT_EQ(shard.read_filenames()[1], "cat/sub/b.png");
  fs::create_directories(dir / "empty");
  EXPECT_NE(expect_data_error([&] {
              run_pack(options("folder", dir / "empty", dir / "o2"));
            }).find("empty"),
            std::string::npos);
}

class PackCeleba : public ::testing::TestWithParam<bool> {};

TEST_P(PackCeleba, LayoutSplitsAttrsAndBadFiles) {
  test::ScratchDir dir("prep");
  CelebaFixtureOptions f;
  f.root = dir / "celeba";
  f.kaggle = GetParam();
  f.count = 12;
  f.bad_files = true;
  write_celeba_fixture(f);
  auto o = options("celeba", f.root, dir / "all");
  const auto summary = run_pack(o);
  EXPECT_EQ(summary.written, 10);
  EXPECT_EQ(summary.skipped, 2);  // 000004.jpg truncated, 000007.jpg empty
  data::ShardDataset ds(dir / "all");
  EXPECT_EQ(ds.manifest().skipped, 2);
  EXPECT_EQ(ds.manifest().attr_names, celeba_attr_names());
  data::ShardFile shard(dir / "all/shard-00000.h5", ds.manifest().shards[0], ds.manifest());
  const auto names = shard.read_filenames();
  EXPECT_EQ(names[3], "000005.jpg");
  EXPECT_EQ(shard.read_index()[3], 4);
  const auto attrs = ds.read_attrs(0);
  ASSERT_EQ(attrs.size(), 10u * 40);
  EXPECT_EQ(attrs[3 * 40 + 5], fixture_attr(4, 5));
  EXPECT_EQ(attrs[9 * 40 + 39], fixture_attr(11, 39));
  // Pixels equal the pipeline applied to the file.
  Pipeline pipe({32, 3, CropSpec{}, false});
  std::vector<uint8_t> expected(ds.image_bytes());
  const std::string images =
      f.kaggle ? f.root + "/img_align_celeba/img_align_celeba/" : f.root + "/img_align_celeba/";
  pipe.run_file(images + "000005.jpg", expected.data());
  const int64_t i3 = 3;
  std::vector<uint8_t> got(ds.image_bytes());
  ds.read(&i3, 1, got.data());
  EXPECT_EQ(got, expected);
  // Splits: 12 images -> 8 train (2 of them bad), 2 valid, 2 test.
  const std::pair<const char*, int64_t> splits[] = {{"train", 6}, {"valid", 2}, {"test", 2}};
  for (const auto& [split, count] : splits) {
    auto s = options("celeba", f.root, dir / split);
    s.source.split = split;
    EXPECT_EQ(run_pack(s).written, count) << split;
  }
  // --on-bad-image fail names the file; no manifest is left behind.
  auto fail = options("celeba", f.root, dir / "fail");
  fail.fail_on_bad_image = true;
  EXPECT_NE(expect_data_error([&] { run_pack(fail); }).find("000004.jpg"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir / "fail/manifest.json"));
}

INSTANTIATE_TEST_SUITE_P(BothLayouts, PackCeleba, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "kaggle" : "official"; });

TEST(PackCelebaErrors, MissingRootAndMissingPartition) {
  test::ScratchDir dir("prep");
  EXPECT_NE(expect_data_error([&] {
              run_pack(options("celeba", dir / "nope", dir / "o"));
            }).find(dir / "nope"),
            std::string::npos);
  CelebaFixtureOptions f;
  f.root = dir / "celeba";
  f.count = 3;
  f.lists = false;
  write_celeba_fixture(f);
  auto o = options("celeba", f.root, dir / "o");
  EXPECT_EQ(run_pack(o).written, 3);  // the lists are optional
  o.source.split = "test";
  o.overwrite = true;
  EXPECT_NE(expect_data_error([&] { run_pack(o); }).find("list_eval_partition.txt"),
            std::string::npos);
}

std::vector<std::string> shard_hashes(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& s : data::read_manifest(dir).shards) out.push_back(s.sha256);
  return out;
}

TEST(PackDeterminism, SameShardsForOneOrThreeWorkers) {
  test::ScratchDir dir("prep");
  CelebaFixtureOptions f;
  f.root = dir / "celeba";
  f.count = 14;
  f.bad_files = true;
  write_celeba_fixture(f);
  auto o = options("celeba", f.root, dir / "w1");
  o.images_per_shard = 5;
  o.workers = 1;
  run_pack(o);
  o.out = dir / "w3";
  o.workers = 3;
  run_pack(o);
  const auto a = shard_hashes(dir / "w1"), b = shard_hashes(dir / "w3");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a, b);
}

TEST(PackCorruption, FlippedImageByteFailsReaderAndVerify) {
  test::ScratchDir dir("prep");
  auto o = options("synthetic", "", dir / "out");
  o.source.count = 20;
  o.images_per_shard = 10;
  run_pack(o);
  // Flip one byte inside image 4 of shard 1, located through HDF5's chunk index.
  const auto m = data::read_manifest(dir / "out");
  haddr_t offset = 0;
  {
    data::h5::init();
    data::h5::Id file(H5Fopen((dir / "out/shard-00001.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    data::h5::Id dset(H5Dopen2(file.get(), "images", H5P_DEFAULT));
    const hsize_t coord[4] = {4, 0, 0, 0};
    unsigned mask = 0;
    hsize_t size = 0;
    ASSERT_GE(H5Dget_chunk_info_by_coord(dset.get(), coord, &mask, &offset, &size), 0);
  }
  {
    std::fstream f(dir / "out/shard-00001.h5", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset + 100));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5A);
    f.seekp(static_cast<std::streamoff>(offset + 100));
    f.write(&c, 1);
  }
  data::ShardDataset ds(dir / "out");
  std::vector<uint8_t> buf(ds.image_bytes());
  const int64_t good = 13, bad = 14;
  ds.read(&good, 1, buf.data());
  const std::string message = expect_data_error([&] { ds.read(&bad, 1, buf.data()); });
  EXPECT_NE(message.find("shard-00001.h5"), std::string::npos) << message;
  const auto problems = verify_dataset(dir / "out");
  ASSERT_EQ(problems.size(), 2u);  // sha256 and the Fletcher32 read
  EXPECT_NE(problems[0].find("shard-00001.h5"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("shard-00001.h5"), std::string::npos) << problems[1];
}

TEST(PackOutDir, RefusesNonEmptyUnlessOverwriteAndInterruptedRunsHaveNoManifest) {
  test::ScratchDir dir("prep");
  auto o = options("synthetic", "", dir / "out");
  o.source.count = 4;
  run_pack(o);
  EXPECT_THROW(run_pack(o), UsageError);
  o.overwrite = true;
  o.source.count = 6;
  EXPECT_EQ(run_pack(o).written, 6);
  EXPECT_EQ(data::ShardDataset(dir / "out").image_count(), 6);
  // A directory holding shards but no manifest (an interrupted run) is not a data set.
  fs::remove(dir / "out/manifest.json");
  const std::string message = expect_data_error([&] { data::ShardDataset ds(dir / "out"); });
  EXPECT_NE(message.find("manifest.json is missing"), std::string::npos) << message;
}

}  // namespace
}  // namespace dcgan::prep
