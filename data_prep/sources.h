// Inputs of `dcgan-prep pack`: CelebA (both layouts), image folders (ImageFolder classes), IDX
// files and a synthetic generator, behind one interface that lists items in a fixed order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "image.h"

namespace dcgan::prep {

struct SourceOptions {
  std::string kind;           // celeba | folder | idx | synthetic
  std::string input;          // root folder or IDX images file
  std::string labels;         // IDX labels file (optional)
  std::string split = "all";  // celeba: all | train | valid | test
  int64_t count = 0;          // synthetic: number of images
  uint64_t seed = 0;          // synthetic: generator seed
  int image_size = 64;        // synthetic images are generated at the output side length
};

class Source {
 public:
  virtual ~Source() = default;
  virtual int64_t image_count() const = 0;
  virtual std::string name(int64_t item) const = 0;      // stored in `filenames`
  virtual int64_t source_index(int64_t item) const = 0;  // stored in `index`
  virtual bool has_labels() const { return false; }
  virtual int64_t label(int64_t item) const { return -1; }
  virtual const std::vector<std::string>& attr_names() const;
  virtual void attrs(int64_t item, int8_t* out) const {}  // attr_names().size() values
  // Decodes item into `out` with `channels`. Throws DataError naming the file when it is bad.
  virtual void load(int64_t item, int channels, ImageDecoder& decoder, Image& out) const = 0;
  // Native JPEG size (for DCT-domain scaling) when all items share one; else false.
  virtual bool jpeg_source() const { return false; }
};

// Builds and enumerates the source; throws DataError naming the path for a missing or empty
// input, UsageError for inconsistent options.
std::unique_ptr<Source> make_source(const SourceOptions& options);

// Sources built by make_source; exposed for tests.
std::unique_ptr<Source> make_celeba_source(const SourceOptions& options);
std::unique_ptr<Source> make_folder_source(const SourceOptions& options);
std::unique_ptr<Source> make_idx_source(const SourceOptions& options);
std::unique_ptr<Source> make_synthetic_source(const SourceOptions& options);

// The parsers of outside bytes behind the sources, exposed for tests and fuzzers. Each throws
// DataError naming `name` (and the line) on malformed input.
//
// CelebA's list_eval_partition (txt or Kaggle csv): image name -> 0 train, 1 valid, 2 test.
std::unordered_map<std::string, int> parse_partition(const std::string& text, bool csv,
                                                     const std::string& name);
struct AttrTable {
  std::vector<std::string> names;                             // the 40 attribute names
  std::unordered_map<std::string, std::vector<int8_t>> rows;  // image name -> -1/1 per name
};
// CelebA's list_attr_celeba (txt: count line, names line, rows; csv: header row, rows).
AttrTable parse_attrs(const std::string& text, bool csv, const std::string& name);

// A gzip stream (every member) inflated, or the bytes as they are when they are not gzip.
std::vector<uint8_t> inflate_if_gzip(std::vector<uint8_t> bytes, const std::string& name);
struct IdxImages {
  int64_t count = 0;
  int height = 0, width = 0;
  size_t pixel_offset = 16;  // uint8 count x height x width from here
};
// An IDX image file (magic 0x00000803) whose size matches its header.
IdxImages parse_idx_images(const std::vector<uint8_t>& bytes, const std::string& name);
// An IDX label file (magic 0x00000801) with exactly `count` labels.
std::vector<int64_t> parse_idx_labels(const std::vector<uint8_t>& bytes, int64_t count,
                                      const std::string& name);

// A synthetic image: deterministic in (seed, index), smooth gradients plus noise.
void synthetic_image(uint64_t seed, int64_t index, int side, int channels, Image& out);

}  // namespace dcgan::prep
