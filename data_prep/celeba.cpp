// CelebA: the official layout (img_align_celeba/ + .txt lists) and the Kaggle re-distribution
// (img_align_celeba/img_align_celeba/ + .csv lists); the partition and attribute lists optional.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "sources.h"

namespace dcgan::prep {
namespace {

namespace fs = std::filesystem;

struct Layout {
  fs::path images;
  fs::path partition;  // may not exist
  fs::path attrs;      // may not exist
  bool csv = false;
};

Layout find_layout(const std::string& root) {
  if (!fs::is_directory(root)) throw DataError(str("CelebA root '", root, "' is not a directory"));
  Layout l;
  const fs::path base(root);
  if (fs::is_directory(base / "img_align_celeba" / "img_align_celeba")) {
    l.images = base / "img_align_celeba" / "img_align_celeba";
    l.partition = base / "list_eval_partition.csv";
    l.attrs = base / "list_attr_celeba.csv";
    l.csv = true;
  } else if (fs::is_directory(base / "img_align_celeba")) {
    l.images = base / "img_align_celeba";
    l.partition = base / "list_eval_partition.txt";
    l.attrs = base / "list_attr_celeba.txt";
  } else {
    throw DataError(str("CelebA root '", root, "' has no img_align_celeba/ folder (expected the ",
                        "official layout or the Kaggle img_align_celeba/img_align_celeba/)"));
  }
  return l;
}

std::vector<std::string> split_fields(const std::string& line, bool csv) {
  std::vector<std::string> out;
  if (csv) {
    std::stringstream in(line);
    std::string f;
    while (std::getline(in, f, ',')) out.push_back(f);
  } else {
    std::istringstream in(line);
    std::string f;
    while (in >> f) out.push_back(f);
  }
  for (auto& f : out)
    if (!f.empty() && f.back() == '\r') f.pop_back();
  return out;
}

std::string read_list(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(str("cannot read ", path.string()));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::unordered_map<std::string, int> parse_partition(const std::string& text, bool csv,
                                                     const std::string& name) {
  std::istringstream in(text);
  std::unordered_map<std::string, int> parts;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const auto f = split_fields(line, csv);
    if (f.empty() || (csv && line_no == 1)) continue;  // the CSV header: image_id,partition
    if (f.size() != 2 || (f[1] != "0" && f[1] != "1" && f[1] != "2"))
      throw DataError(str(name, ":", line_no, ": expected '<image> <0|1|2>'"));
    parts[f[0]] = f[1][0] - '0';
  }
  return parts;
}

AttrTable parse_attrs(const std::string& text, bool csv, const std::string& name) {
  std::istringstream in(text);
  AttrTable t;
  std::string line;
  int line_no = 0;
  if (!csv) {  // line 1: the image count
    std::getline(in, line);
    ++line_no;
  }
  if (!std::getline(in, line)) throw DataError(str(name, ": no attribute names"));
  ++line_no;
  t.names = split_fields(line, csv);
  if (csv && !t.names.empty()) t.names.erase(t.names.begin());  // image_id
  if (t.names.empty()) throw DataError(str(name, ": no attribute names"));
  while (std::getline(in, line)) {
    ++line_no;
    const auto f = split_fields(line, csv);
    if (f.empty()) continue;
    if (f.size() != t.names.size() + 1)
      throw DataError(
          str(name, ":", line_no, ": expected ", t.names.size() + 1, " fields, found ", f.size()));
    std::vector<int8_t> row(t.names.size());
    for (size_t i = 0; i < row.size(); ++i) {
      if (f[i + 1] != "1" && f[i + 1] != "-1")
        throw DataError(
            str(name, ":", line_no, ": attribute value '", f[i + 1], "' is not -1 or 1"));
      row[i] = f[i + 1] == "1" ? 1 : -1;
    }
    t.rows[f[0]] = std::move(row);
  }
  return t;
}

namespace {

class CelebaSource : public Source {
 public:
  explicit CelebaSource(const SourceOptions& o) {
    const Layout layout = find_layout(o.input);
    std::vector<std::string> all;
    for (const auto& e : fs::directory_iterator(layout.images)) {
      std::string ext = e.path().extension().string();
      std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
      if (e.is_regular_file() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png"))
        all.push_back(e.path().filename().string());
    }
    std::sort(all.begin(), all.end());
    if (all.empty()) throw DataError(str("no images found in ", layout.images.string()));
    select_split(o.split, layout, all);
    dir_ = layout.images.string();
    if (fs::exists(layout.attrs)) attach_attrs(layout);
  }

  int64_t image_count() const override { return static_cast<int64_t>(names_.size()); }
  std::string name(int64_t i) const override { return names_[static_cast<size_t>(i)]; }
  int64_t source_index(int64_t i) const override { return positions_[static_cast<size_t>(i)]; }
  const std::vector<std::string>& attr_names() const override { return attr_names_; }
  void attrs(int64_t i, int8_t* out) const override {
    std::copy(attrs_.begin() + i * attr_names_.size(),
              attrs_.begin() + (i + 1) * attr_names_.size(), out);
  }
  void load(int64_t i, int channels, ImageDecoder& d, Image& out) const override {
    d.decode_file(dir_ + "/" + names_[static_cast<size_t>(i)], channels, out);
  }
  bool jpeg_source() const override { return true; }

 private:
  void select_split(const std::string& split, const Layout& layout,
                    const std::vector<std::string>& all) {
    int want = -1;
    if (split == "train")
      want = 0;
    else if (split == "valid")
      want = 1;
    else if (split == "test")
      want = 2;
    else if (split != "all")
      throw UsageError(str("--split '", split, "': expected all, train, valid or test"));
    std::unordered_map<std::string, int> parts;
    if (want >= 0) {
      if (!fs::exists(layout.partition))
        throw DataError(str("--split ", split, " needs the partition list ",
                            layout.partition.string(), ", which does not exist"));
      parts = parse_partition(read_list(layout.partition), layout.csv, layout.partition.string());
    }
    for (size_t p = 0; p < all.size(); ++p) {
      if (want >= 0) {
        const auto it = parts.find(all[p]);
        if (it == parts.end() || it->second != want) continue;
      }
      names_.push_back(all[p]);
      positions_.push_back(static_cast<int64_t>(p));
    }
    if (names_.empty())
      throw DataError(str("split '", split, "' of ", layout.images.string(), " is empty"));
  }

  void attach_attrs(const Layout& layout) {
    const AttrTable t = parse_attrs(read_list(layout.attrs), layout.csv, layout.attrs.string());
    attr_names_ = t.names;
    attrs_.reserve(names_.size() * attr_names_.size());
    for (const auto& n : names_) {
      const auto it = t.rows.find(n);
      if (it == t.rows.end()) throw DataError(str(layout.attrs.string(), " has no row for ", n));
      attrs_.insert(attrs_.end(), it->second.begin(), it->second.end());
    }
  }

  std::string dir_;
  std::vector<std::string> names_;
  std::vector<int64_t> positions_;
  std::vector<std::string> attr_names_;
  std::vector<int8_t> attrs_;
};

}  // namespace

std::unique_ptr<Source> make_celeba_source(const SourceOptions& options) {
  return std::make_unique<CelebaSource>(options);
}

}  // namespace dcgan::prep
