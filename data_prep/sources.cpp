// Image folders (ImageFolder: class = first-level subfolder), IDX files (gzipped or not) and the
// synthetic generator; make_source picks one.
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

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
        if (e.is_regular_file() && is_image_file(e.path()))
          names_.push_back(e.path().filename().string());
      std::sort(names_.begin(), names_.end());
      labels_.assign(names_.size(), -1);
    }
    if (names_.empty()) throw DataError(str("no JPEG/PNG images found under '", root_, "'"));
  }

  int64_t image_count() const override { return static_cast<int64_t>(names_.size()); }
  std::string name(int64_t i) const override { return names_[static_cast<size_t>(i)]; }
  int64_t source_index(int64_t i) const override { return i; }
  bool has_labels() const override { return has_labels_; }
  int64_t label(int64_t i) const override { return labels_.at(static_cast<size_t>(i)); }
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

// The whole file, gzip or not (inflate_if_gzip decides by content).
std::vector<uint8_t> read_idx_file(const std::string& path) {
  if (!fs::is_regular_file(path)) throw DataError(str("IDX file '", path, "' does not exist"));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(str("cannot open IDX file '", path, "'"));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  return inflate_if_gzip(std::move(bytes), path);
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

class IdxSource : public Source {
 public:
  explicit IdxSource(const SourceOptions& o) : path_(o.input) {
    bytes_ = read_idx_file(path_);
    header_ = parse_idx_images(bytes_, path_);
    if (!o.labels.empty())
      labels_ = parse_idx_labels(read_idx_file(o.labels), header_.count, o.labels);
  }

  int64_t image_count() const override { return header_.count; }
  std::string name(int64_t i) const override {
    return str(fs::path(path_).filename().string(), ":", i);
  }
  int64_t source_index(int64_t i) const override { return i; }
  bool has_labels() const override { return !labels_.empty(); }
  // -1 without --labels: the shards then store no labels, as for a folder without classes.
  int64_t label(int64_t i) const override {
    return labels_.empty() ? -1 : labels_.at(static_cast<size_t>(i));
  }
  void load(int64_t i, int channels, ImageDecoder&, Image& out) const override {
    const int width = header_.width, height = header_.height;
    out.resize(width, height, 1);
    const size_t n = static_cast<size_t>(width) * height;
    std::memcpy(out.pixels.data(),
                bytes_.data() + header_.pixel_offset + static_cast<size_t>(i) * n, n);
    if (channels == 3) {
      out.resize(width, height, 3);
      for (size_t p = n; p-- > 0;)
        out.pixels[p * 3] = out.pixels[p * 3 + 1] = out.pixels[p * 3 + 2] = out.pixels[p];
    }
  }

 private:
  std::string path_;
  std::vector<uint8_t> bytes_;
  IdxImages header_;
  std::vector<int64_t> labels_;
};

class SyntheticSource : public Source {
 public:
  explicit SyntheticSource(const SourceOptions& o)
      : count_(o.count), seed_(o.seed), size_(o.image_size) {
    if (count_ < 1) throw UsageError("--source synthetic needs --count N (N >= 1)");
  }
  int64_t image_count() const override { return count_; }
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

std::vector<uint8_t> inflate_if_gzip(std::vector<uint8_t> bytes, const std::string& name) {
  if (bytes.size() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b) return bytes;
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw Error(str("zlib: cannot inflate ", name));
  std::vector<uint8_t> out;
  uint8_t buf[1 << 16];
  z.next_in = bytes.data();
  z.avail_in = static_cast<uInt>(bytes.size());
  int rc = Z_OK;
  while (true) {
    z.next_out = buf;
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    out.insert(out.end(), buf, buf + (sizeof(buf) - z.avail_out));
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      inflateReset(&z);  // the next member of a concatenated gzip file
      continue;
    }
    if (rc != Z_OK) break;
    if (z.avail_in == 0 && z.avail_out != 0) {
      rc = Z_BUF_ERROR;  // input used up in the middle of a stream
      break;
    }
  }
  const std::string message = z.msg != nullptr ? z.msg : "the gzip stream ends early (truncated)";
  inflateEnd(&z);
  if (rc != Z_STREAM_END) throw DataError(str("corrupt IDX file '", name, "': ", message));
  return out;
}

IdxImages parse_idx_images(const std::vector<uint8_t>& bytes, const std::string& name) {
  if (bytes.size() < 16 || be32(bytes.data()) != 0x00000803)
    throw DataError(
        str("'", name, "' is not an IDX image file (magic 0x00000803, uint8 N x H x W)"));
  IdxImages h;
  h.count = be32(bytes.data() + 4);
  const uint32_t height = be32(bytes.data() + 8), width = be32(bytes.data() + 12);
  const auto max_side = static_cast<uint32_t>(data::schema::kMaxImageSize);
  if (height < 1 || width < 1 || height > max_side || width > max_side ||
      bytes.size() != 16 + static_cast<uint64_t>(h.count) * height * width)
    throw DataError(str("IDX file '", name, "' header (", h.count, " x ", height, " x ", width,
                        ") does not match its size of ", bytes.size(), " bytes"));
  if (h.count == 0) throw DataError(str("IDX file '", name, "' holds no images"));
  h.height = static_cast<int>(height);
  h.width = static_cast<int>(width);
  return h;
}

std::vector<int64_t> parse_idx_labels(const std::vector<uint8_t>& bytes, int64_t count,
                                      const std::string& name) {
  if (bytes.size() < 8 || be32(bytes.data()) != 0x00000801)
    throw DataError(str("'", name, "' is not an IDX label file (magic 0x00000801)"));
  if (be32(bytes.data() + 4) != count)
    throw DataError(str("IDX label file '", name, "' holds ", be32(bytes.data() + 4),
                        " labels for ", count, " images"));
  if (bytes.size() != 8 + static_cast<size_t>(count))
    throw DataError(str("IDX label file '", name, "' header says ", count,
                        " labels but its size is ", bytes.size(), " bytes (expected ", 8 + count,
                        ")"));
  return {bytes.begin() + 8, bytes.end()};
}

const std::vector<std::string>& Source::attr_names() const {
  static const std::vector<std::string> kNone;
  return kNone;
}

void synthetic_image(uint64_t seed, int64_t index, int side, int channels, Image& out) {
  uint64_t state = seed * 0x100000001B3ull + static_cast<uint64_t>(index);
  const uint64_t a = splitmix(state);
  out.resize(side, side, channels);
  size_t p = 0;
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x)
      for (int c = 0; c < channels; ++c) {
        const int base = static_cast<int>((a >> (c * 8)) & 0xFF) + x * (c + 1) * 3 + y * 2;
        out.pixels[p++] =
            static_cast<uint8_t>((base + static_cast<int>(splitmix(state) & 15)) & 0xFF);
      }
}

std::unique_ptr<Source> make_folder_source(const SourceOptions& o) {
  return std::make_unique<FolderSource>(o);
}
std::unique_ptr<Source> make_idx_source(const SourceOptions& o) {
  return std::make_unique<IdxSource>(o);
}
std::unique_ptr<Source> make_synthetic_source(const SourceOptions& o) {
  return std::make_unique<SyntheticSource>(o);
}

std::unique_ptr<Source> make_source(const SourceOptions& o) {
  if (o.kind != "celeba" && o.split != "all")
    throw UsageError(str("--split applies to --source celeba only"));
  if (o.kind != "synthetic" && o.input.empty())
    throw UsageError(str("--source ", o.kind, " needs --input PATH"));
  if (o.kind == "celeba") return make_celeba_source(o);
  if (o.kind == "folder") return make_folder_source(o);
  if (o.kind == "idx") return make_idx_source(o);
  if (o.kind == "synthetic") return make_synthetic_source(o);
  throw UsageError(str("--source '", o.kind, "': expected celeba, folder, idx or synthetic"));
}

}  // namespace dcgan::prep
