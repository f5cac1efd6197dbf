// Image folders (ImageFolder: class = first-level subfolder), IDX files (gzipped or not) and the
// synthetic generator; make_source picks one.
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "dcgan/data/schema.h"
#include "sources.h"

namespace dcgan::prep {
namespace {

namespace fs = std::filesystem;

bool is_image_file(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

class FolderSource : public Source {
 public:
  explicit FolderSource(const SourceOptions& o) : root_(o.input) {
    if (!fs::is_directory(root_)) throw DataError(str("input folder '", root_, "' does not exist"));
    std::vector<std::string> classes;
    for (const auto& e : fs::directory_iterator(root_))
      if (e.is_directory()) classes.push_back(e.path().filename().string());
    std::sort(classes.begin(), classes.end());
    has_labels_ = !classes.empty();
    if (has_labels_) {
      for (size_t c = 0; c < classes.size(); ++c) add_tree(classes[c], static_cast<int64_t>(c));
      log::info(str("folder source: ", classes.size(), " classes (", classes.front(), " = 0 ... ",
                    classes.back(), " = ", classes.size() - 1, ")"));
    } else {
      for (const auto& e : fs::directory_iterator(root_))
        if (e.is_regular_file() && is_image_file(e.path())) names_.push_back(e.path().filename().string());
      std::sort(names_.begin(), names_.end());
      labels_.assign(names_.size(), -1);
    }
    if (names_.empty()) throw DataError(str("no JPEG/PNG images found under '", root_, "'"));
  }

  int64_t size() const override { return static_cast<int64_t>(names_.size()); }
  std::string name(int64_t i) const override { return names_[static_cast<size_t>(i)]; }
  int64_t source_index(int64_t i) const override { return i; }
  bool has_labels() const override { return has_labels_; }
  int64_t label(int64_t i) const override { return labels_[static_cast<size_t>(i)]; }
  void load(int64_t i, int channels, ImageDecoder& d, Image& out) const override {
    d.decode_file(root_ + "/" + names_[static_cast<size_t>(i)], channels, out);
  }

 private:
  void add_tree(const std::string& cls, int64_t label) {
    std::vector<std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(fs::path(root_) / cls))
      if (e.is_regular_file() && is_image_file(e.path()))
        files.push_back(fs::relative(e.path(), root_).generic_string());
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      names_.push_back(std::move(f));
      labels_.push_back(label);
    }
  }

  std::string root_;
  bool has_labels_ = false;
  std::vector<std::string> names_;
  std::vector<int64_t> labels_;
};

// Whole IDX file (gzip is detected by zlib, plain files pass through).
std::vector<uint8_t> read_gz(const std::string& path) {
  if (!fs::is_regular_file(path)) throw DataError(str("IDX file '", path, "' does not exist"));
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw DataError(str("cannot open IDX file '", path, "'"));
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  int n = 0;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) out.insert(out.end(), buf, buf + n);
  int err = 0;
  const std::string message = n < 0 ? gzerror(f, &err) : "";
  gzclose(f);
  if (n < 0) throw DataError(str("corrupt IDX file '", path, "': ", message));
  return out;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

class IdxSource : public Source {
 public:
  explicit IdxSource(const SourceOptions& o) : path_(o.input) {
    bytes_ = read_gz(path_);
    if (bytes_.size() < 16 || be32(bytes_.data()) != 0x00000803)
      throw DataError(str("'", path_, "' is not an IDX image file (magic 0x00000803, uint8 N x H x W)"));
    count_ = be32(bytes_.data() + 4);
    height_ = static_cast<int>(be32(bytes_.data() + 8));
    width_ = static_cast<int>(be32(bytes_.data() + 12));
    if (height_ < 1 || width_ < 1 || height_ > data::schema::kMaxImageSize ||
        width_ > data::schema::kMaxImageSize ||
        bytes_.size() != 16 + static_cast<uint64_t>(count_) * height_ * width_)
      throw DataError(str("IDX file '", path_, "' header (", count_, " x ", height_, " x ", width_,
                          ") does not match its size of ", bytes_.size(), " bytes"));
    if (count_ == 0) throw DataError(str("IDX file '", path_, "' holds no images"));
    if (!o.labels.empty()) load_labels(o.labels);
  }

  int64_t size() const override { return count_; }
  std::string name(int64_t i) const override { return str(fs::path(path_).filename().string(), ":", i); }
  int64_t source_index(int64_t i) const override { return i; }
  bool has_labels() const override { return !labels_.empty(); }
  int64_t label(int64_t i) const override { return labels_[static_cast<size_t>(i)]; }
  void load(int64_t i, int channels, ImageDecoder&, Image& out) const override {
    out.resize(width_, height_, 1);
    const size_t n = static_cast<size_t>(width_) * height_;
    std::memcpy(out.pixels.data(), bytes_.data() + 16 + static_cast<size_t>(i) * n, n);
    if (channels == 3) {
      out.resize(width_, height_, 3);
      for (size_t p = n; p-- > 0;) out.pixels[p * 3] = out.pixels[p * 3 + 1] = out.pixels[p * 3 + 2] = out.pixels[p];
    }
  }

 private:
  void load_labels(const std::string& path) {
    const auto b = read_gz(path);
    if (b.size() < 8 || be32(b.data()) != 0x00000801)
      throw DataError(str("'", path, "' is not an IDX label file (magic 0x00000801)"));
    if (be32(b.data() + 4) != count_ || b.size() != 8 + static_cast<size_t>(count_))
      throw DataError(str("IDX label file '", path, "' holds ", be32(b.data() + 4),
                          " labels for ", count_, " images"));
    labels_.assign(b.begin() + 8, b.end());
  }

  std::string path_;
  std::vector<uint8_t> bytes_;
  int64_t count_ = 0;
  int height_ = 0, width_ = 0;
  std::vector<int64_t> labels_;
};

class SyntheticSource : public Source {
 public:
  explicit SyntheticSource(const SourceOptions& o) : count_(o.count), seed_(o.seed), size_(o.size) {
    if (count_ < 1) throw UsageError("--source synthetic needs --count N (N >= 1)");
  }
  int64_t size() const override { return count_; }
  std::string name(int64_t i) const override { return str("synthetic-", i); }
  int64_t source_index(int64_t i) const override { return i; }
  void load(int64_t i, int channels, ImageDecoder&, Image& out) const override {
    synthetic_image(seed_, i, size_, channels, out);
  }

 private:
  int64_t count_;
  uint64_t seed_;
  int size_;
};

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

const std::vector<std::string>& Source::attr_names() const {
  static const std::vector<std::string> kNone;
  return kNone;
}

void synthetic_image(uint64_t seed, int64_t index, int size, int channels, Image& out) {
  uint64_t state = seed * 0x100000001B3ull + static_cast<uint64_t>(index);
  const uint64_t a = splitmix(state);
  out.resize(size, size, channels);
  size_t p = 0;
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < channels; ++c) {
        const int base = static_cast<int>((a >> (c * 8)) & 0xFF) + x * (c + 1) * 3 + y * 2;
        out.pixels[p++] = static_cast<uint8_t>((base + static_cast<int>(splitmix(state) & 15)) & 0xFF);
      }
}

std::unique_ptr<Source> make_folder_source(const SourceOptions& o) { return std::make_unique<FolderSource>(o); }
std::unique_ptr<Source> make_idx_source(const SourceOptions& o) { return std::make_unique<IdxSource>(o); }
std::unique_ptr<Source> make_synthetic_source(const SourceOptions& o) { return std::make_unique<SyntheticSource>(o); }

std::unique_ptr<Source> make_source(const SourceOptions& o) {
  if (o.kind != "celeba" && o.split != "all")
    throw UsageError(str("--split applies to --source celeba only"));
  if (o.kind != "synthetic" && o.input.empty()) throw UsageError(str("--source ", o.kind, " needs --input PATH"));
  if (o.kind == "celeba") return make_celeba_source(o);
  if (o.kind == "folder") return make_folder_source(o);
  if (o.kind == "idx") return make_idx_source(o);
  if (o.kind == "synthetic") return make_synthetic_source(o);
  throw UsageError(str("--source '", o.kind, "': expected celeba, folder, idx or synthetic"));
}

}  // namespace dcgan::prep
