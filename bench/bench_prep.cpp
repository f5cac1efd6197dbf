// Benchmark of dcgan-prep and the shard reader: packing 178x218 JPEGs to 64x64 (per core, full
// and DCT-scaled decode), the decode+resize path alone, and random-order reads from page cache
// for two chunk layouts. Prints a table; bench/bench_prep.sh adds the PIL + h5py reference.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <random>

#include "celeba_fixture.h"
#include "dcgan/common/log.h"
#include "dcgan/data/dataset.h"
#include "pack.h"
#include "pipeline.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace dcgan;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// CPU seconds of the whole process (all threads): per-core rates stay meaningful on a busy host.
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

struct Rate {
  double wall = 0;  // images per wall-clock second
  double cpu = 0;   // images per CPU-second (per core)
};

void row(const char* name, Rate r) { std::printf("%-46s %10.0f %10.0f\n", name, r.wall, r.cpu); }

Rate pack_rate(const std::string& root, const std::string& out, int workers, bool dct, int chunk) {
  prep::PackOptions o;
  o.source.kind = "celeba";
  o.source.input = root;
  o.out = out;
  o.image_size = 64;
  o.source.image_size = 64;
  o.workers = workers;
  o.jpeg_dct_scaling = dct;
  o.chunk_images = chunk;
  o.overwrite = true;
  o.progress = false;
  prep::LocalComm comm;
  const double cpu0 = cpu_seconds();
  const auto s = prep::pack(o, comm);
  return {s.written / s.seconds, s.written / (cpu_seconds() - cpu0)};
}

Rate transform_rate(const std::string& root, int count, bool dct) {
  prep::Pipeline p({64, 3, prep::CropSpec{}, dct});
  std::vector<uint8_t> out(64 * 64 * 3);
  const std::string dir = root + "/img_align_celeba/";
  char name[32];
  const auto t = Clock::now();
  const double cpu0 = cpu_seconds();
  for (int i = 0; i < count; ++i) {
    std::snprintf(name, sizeof(name), "%06d.jpg", i + 1);
    p.run_file(dir + name, out.data());
  }
  return {count / seconds_since(t), count / (cpu_seconds() - cpu0)};
}

Rate read_rate(const std::string& dir, int64_t reads, int batch) {
  data::ShardDataset ds(dir);
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int64_t> pick(0, ds.image_count() - 1);
  std::vector<int64_t> idx(static_cast<size_t>(batch));
  std::vector<uint8_t> out(static_cast<size_t>(batch) * ds.image_bytes());
  for (auto& i : idx) i = pick(rng);
  ds.read(idx.data(), idx.size(), out.data());  // warm the page cache and the metadata
  const auto t = Clock::now();
  const double cpu0 = cpu_seconds();
  for (int64_t done = 0; done < reads; done += batch) {
    for (auto& i : idx) i = pick(rng);
    ds.read(idx.data(), idx.size(), out.data());
  }
  return {reads / seconds_since(t), reads / (cpu_seconds() - cpu0)};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_prep: dcgan-prep packing and shard reading speed"};
  std::string work = "bench-prep-work";
  int count = 2000;
  int noise = 4;
  int64_t reads = 200000;
  bool make_only = false;
  bool bad_files = false;
  app.add_option("--work", work, "scratch directory (CelebA-shaped folder + shards)")
      ->capture_default_str();
  app.add_option("--count", count, "JPEGs in the generated folder")->capture_default_str();
  app.add_option("--noise", noise,
                 "pixel noise of the generated JPEGs (4: ~7.7 KB files; CelebA averages ~7 KB)")
      ->capture_default_str();
  app.add_option("--reads", reads, "random image reads per reader measurement")
      ->capture_default_str();
  app.add_flag("--make-celeba-only", make_only,
               "only write <work>/celeba (official layout) and exit");
  app.add_flag("--bad-files", bad_files, "make 000004.jpg truncated and 000007.jpg empty (tests)");
  CLI11_PARSE(app, argc, argv);
  log::LogConfig quiet;
  dcgan::log::init(quiet);
  const std::string root = work + "/celeba";
  char last[32];
  std::snprintf(last, sizeof(last), "/img_align_celeba/%06d.jpg", count);
  if (!fs::exists(root + last)) {
    prep::CelebaFixtureOptions f;
    f.root = root;
    f.count = count;
    f.noise = noise;
    f.bad_files = bad_files;
    prep::write_celeba_fixture(f);
  }
  if (make_only) return 0;
  std::printf("%-46s %10s %10s\n", "C++ (img/s)", "wall", "per CPU-s");
  row("decode+resize 178x218->64, 1 thread", transform_rate(root, count, false));
  row("decode+resize, DCT 1/2, 1 thread", transform_rate(root, count, true));
  row("pack celeba->64x64, 1 worker", pack_rate(root, work + "/s1", 1, false, 1));
  row("pack celeba->64x64, 1 worker, DCT 1/2", pack_rate(root, work + "/s1dct", 1, true, 1));
  row("pack celeba->64x64, 2 workers", pack_rate(root, work + "/s2", 2, false, 1));
  pack_rate(root, work + "/c64", 1, false, 64);
  row("read random 64x64, chunk 1 image", read_rate(work + "/s1", reads, 128));
  row("read random 64x64, chunk 64 images", read_rate(work + "/c64", reads / 10, 128));
  return 0;
}
