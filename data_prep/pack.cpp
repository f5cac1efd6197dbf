// Packing: ranks take shards round-robin, workers decode/transform a block of items in parallel,
// the rank's main thread appends the block in source order. Rank 0 writes the manifest last.
#include "pack.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "dcgan/data/schema.h"
#include "pipeline.h"
#include "rank_status.h"
#include "shard_writer.h"

namespace dcgan::prep {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int64_t kBlockItems = 512;  // items decoded per parallel step; fixed for determinism

// Refuses a non-empty --out unless --overwrite; then the old manifest goes first, so a crash
// from here on leaves a directory that no reader accepts.
void prepare_out_dir(const std::string& out, bool overwrite) {
  if (fs::exists(out) && !fs::is_directory(out))
    throw UsageError(str("--out '", out, "' exists and is not a directory"));
  if (fs::exists(out) && !fs::is_empty(out)) {
    if (!overwrite)
      throw UsageError(
          str("--out '", out, "' is not empty (HINT: pass --overwrite to replace it)"));
    fs::remove(fs::path(out) / "manifest.json");
    fsync_path(out);
    for (const auto& e : fs::directory_iterator(out)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("shard-", 0) == 0 || name.rfind("manifest.json", 0) == 0) fs::remove(e.path());
    }
  }
  fs::create_directories(out);
}

struct Block {
  std::vector<uint8_t> pixels;  // kBlockItems slots of image_bytes
  std::vector<char> ok;
  std::vector<std::string> errors;
};

class ShardPacker {
 public:
  ShardPacker(const PackOptions& o, const Source& src, int workers)
      : o_(o), src_(src), workers_(workers) {
    image_bytes_ = static_cast<size_t>(o.image_size) * o.image_size * o.channels;
    const bool dct = o.jpeg_dct_scaling && src.jpeg_source();
    for (int w = 0; w < workers; ++w)
      pipelines_.emplace_back(PipelineOptions{o.image_size, o.channels, o.crop, dct});
    block_.pixels.resize(kBlockItems * image_bytes_);
  }

  // Packs items [first, last) into `path`; returns the entry and the number skipped.
  std::pair<data::ShardEntry, int64_t> pack_shard(const std::string& path, int64_t first,
                                                  int64_t last, std::atomic<int64_t>& done) {
    ShardLayout layout{
        o_.image_size,     o_.channels,     static_cast<int>(src_.attr_names().size()),
        src_.has_labels(), o_.chunk_images, o_.source.kind,
        o_.crop.text()};
    ShardWriter writer(path, layout);
    int64_t skipped = 0;
    for (int64_t b = first; b < last; b += kBlockItems) {
      const int64_t n = std::min(kBlockItems, last - b);
      decode_block(b, n);
      skipped += write_block(writer, b, n);
      done += n;
    }
    return {writer.finish(), skipped};
  }

 private:
  void decode_block(int64_t first, int64_t n) {
    block_.ok.assign(static_cast<size_t>(n), 0);
    block_.errors.assign(static_cast<size_t>(n), std::string());
    std::atomic<int64_t> next{0};
    auto work = [&](size_t w) {
      for (int64_t i = next++; i < n; i = next++) {
        try {
          pipelines_[w].run(src_, first + i, block_.pixels.data() + i * image_bytes_);
          block_.ok[static_cast<size_t>(i)] = 1;
        } catch (const DataError& e) {
          block_.errors[static_cast<size_t>(i)] = e.what();
        }
      }
    };
    std::vector<std::thread> threads;
    for (int w = 1; w < workers_; ++w) threads.emplace_back(work, static_cast<size_t>(w));
    work(0);
    for (auto& t : threads) t.join();
  }

  // Compacts the block in source order and appends it; returns how many were skipped.
  int64_t write_block(ShardWriter& writer, int64_t first, int64_t n) {
    const size_t attr_count = src_.attr_names().size();
    std::vector<int64_t> index, labels;
    std::vector<std::string> names;
    std::vector<int8_t> attrs;
    int64_t kept = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (!block_.ok[static_cast<size_t>(i)]) {
        if (o_.fail_on_bad_image) throw DataError(block_.errors[static_cast<size_t>(i)]);
        log::warn(str("skipping bad image: ", block_.errors[static_cast<size_t>(i)]));
        continue;
      }
      if (kept != i)
        std::memmove(block_.pixels.data() + kept * image_bytes_,
                     block_.pixels.data() + i * image_bytes_, image_bytes_);
      const int64_t item = first + i;
      index.push_back(src_.source_index(item));
      names.push_back(src_.name(item));
      if (src_.has_labels()) labels.push_back(src_.label(item));
      attrs.resize(attrs.size() + attr_count);
      if (attr_count > 0) src_.attrs(item, attrs.data() + attrs.size() - attr_count);
      ++kept;
    }
    writer.append(block_.pixels.data(), kept, index.data(), names, labels.data(), attrs.data());
    return n - kept;
  }

  const PackOptions& o_;
  const Source& src_;
  int workers_;
  size_t image_bytes_ = 0;
  std::deque<Pipeline> pipelines_;  // one per worker; deque: Pipeline is not movable
  Block block_;
};

// Prints images/s and ETA on a terminal (rank 0) until stopped.
class Progress {
 public:
  Progress(bool enabled, int64_t total, const std::atomic<int64_t>& done) {
    if (!enabled || ::isatty(2) == 0) return;
    thread_ = std::thread([this, total, &done] {
      const auto start = Clock::now();
      while (!stop_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        const double s = std::chrono::duration<double>(Clock::now() - start).count();
        const double rate = done / std::max(s, 1e-9);
        std::fprintf(stderr, "\r  %lld/%lld images, %.0f img/s, ETA %.0f s   ",
                     static_cast<long long>(done.load()), static_cast<long long>(total), rate,
                     rate > 0 ? (total - done) / rate : 0.0);
      }
      std::fprintf(stderr, "\n");
    });
  }
  ~Progress() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

json pack_rank_shards(const PackOptions& o, const Source& src, int rank, int world,
                      int64_t per_shard) {
  const int64_t n = src.image_count();
  const int64_t shards = (n + per_shard - 1) / per_shard;
  int64_t mine = 0;
  for (int64_t s = rank; s < shards; s += world) mine += std::min(per_shard, n - s * per_shard);
  const int workers = o.workers > 0 ? o.workers : std::max(1u, std::thread::hardware_concurrency());
  ShardPacker packer(o, src, workers);
  std::atomic<int64_t> done{0};
  Progress progress(o.progress && rank == 0, mine, done);
  json results = json::array();
  for (int64_t s = rank; s < shards; s += world) {
    const std::string path = o.out + "/" + data::schema::shard_file_name(s);
    // A failing shard ends this rank's work; its index lets rank 0 report the earliest failure.
    auto packed = std::make_pair(data::ShardEntry{}, int64_t{0});
    json failed = run_guarded_json([&] {
      packed = packer.pack_shard(path, s * per_shard, std::min(n, (s + 1) * per_shard), done);
      return json{{"code", 0}};
    });
    if (failed["code"] != 0) {
      failed["shard"] = s;
      return failed;
    }
    const auto& [entry, skipped] = packed;
    results.push_back({{"shard", s},
                       {"file", entry.file},
                       {"count", entry.count},
                       {"bytes", entry.bytes},
                       {"sha256", entry.sha256},
                       {"skipped", skipped}});
  }
  return {{"code", 0}, {"shards", results}};
}

// Rank 0: every rank's distinct error (merge_statuses), or the manifest written and the summary.
json finish_on_root(const PackOptions& o, const Source& src, const std::vector<std::string>& parts,
                    Clock::time_point start) {
  const std::vector<json> by_rank = parse_statuses(parts);
  const json failed = merge_statuses(by_rank);
  if (failed["code"] != 0) return failed;
  data::Manifest m;
  std::vector<json> shards;
  for (const auto& r : by_rank)
    for (const auto& s : r["shards"]) shards.push_back(s);
  std::sort(shards.begin(), shards.end(),
            [](const json& a, const json& b) { return a["shard"] < b["shard"]; });
  int64_t bytes = 0;
  for (const auto& s : shards) {
    m.shards.push_back({s["file"], s["count"], s["bytes"], s["sha256"]});
    m.total += s["count"].get<int64_t>();
    m.skipped += s["skipped"].get<int64_t>();
    bytes += s["bytes"].get<int64_t>();
  }
  if (m.total == 0)
    return error_status(3, str("every input image was unreadable (", m.skipped, " skipped)"));
  m.image_size = o.image_size;
  m.channels = o.channels;
  m.attr_names = src.attr_names();
  m.source = o.source.kind;
  m.crop = o.crop.text();
  m.command = o.command;
  m.tool_version = DCGAN_PREP_VERSION;
  write_file_atomic(o.out + "/manifest.json", data::schema::manifest_to_json(m));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return {{"code", 0},
          {"written", m.total},
          {"skipped", m.skipped},
          {"bytes", bytes},
          {"seconds", seconds}};
}

}  // namespace

int64_t default_images_per_shard(int image_size, int channels) {
  const int64_t image_bytes = int64_t{image_size} * image_size * channels;
  return std::max<int64_t>(1, (int64_t{512} << 20) / image_bytes);
}

PackSummary pack(const PackOptions& o, PackComm& comm) {
  const auto start = Clock::now();
  if (o.image_size < 1 || o.image_size > data::schema::kMaxImageSize)
    throw UsageError(
        str("--size ", o.image_size, " is outside [1, ", data::schema::kMaxImageSize, "]"));
  if (o.channels != 1 && o.channels != 3)
    throw UsageError(str("--channels ", o.channels, ": expected 1 or 3"));
  if (o.out.empty()) throw UsageError("pack needs --out DIR");
  std::unique_ptr<Source> src;
  json status = run_guarded_json([&] {
    src = make_source(o.source);
    if (comm.rank() == 0) prepare_out_dir(o.out, o.overwrite);
    return json{{"code", 0}};
  });
  throw_status(json::parse(comm.broadcast(status.dump())));
  const int64_t per_shard = o.images_per_shard > 0
                                ? o.images_per_shard
                                : default_images_per_shard(o.image_size, o.channels);
  if (comm.rank() == 0 && src)
    log::info(str("packing ", src->image_count(), " images from ", o.source.kind, " '",
                  o.source.input, "' into ", (src->image_count() + per_shard - 1) / per_shard,
                  " shard(s) of up to ", per_shard, " images (", o.image_size, "x", o.image_size,
                  "x", o.channels, ", ", o.crop.text(), ") on ", comm.world_size(), " rank(s)"));
  // Every rank reaches the gather, failed or not, so no peer waits forever.
  const json mine = !src ? status : run_guarded_json([&] {
    return pack_rank_shards(o, *src, comm.rank(), comm.world_size(), per_shard);
  });
  const auto parts = comm.gather(mine.dump());
  json final_status;
  if (comm.rank() == 0)
    final_status = run_guarded_json([&] { return finish_on_root(o, *src, parts, start); });
  final_status = json::parse(comm.broadcast(final_status.dump()));
  throw_status(final_status);
  PackSummary summary{final_status["written"], final_status["skipped"], final_status["bytes"],
                      final_status["seconds"]};
  log::info(str("wrote ", summary.written, " images, skipped ", summary.skipped, ", ",
                summary.bytes / 1048576.0, " MiB in ", summary.seconds, " s (",
                summary.written / std::max(summary.seconds, 1e-9), " img/s)"));
  return summary;
}

}  // namespace dcgan::prep
