// Inputs of `dcgan-prep pack`: CelebA (both layouts), image folders (ImageFolder classes), IDX
// files and a synthetic generator, behind one interface that lists items in a fixed order.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "image.h"

namespace dcgan::prep {

struct SourceOptions {
  std::string kind;    // celeba | folder | idx | synthetic
  std::string input;   // root folder or IDX images file
  std::string labels;  // IDX labels file (optional)
  std::string split = "all";  // celeba: all | train | valid | test
  int64_t count = 0;   // synthetic: number of images
  uint64_t seed = 0;   // synthetic: generator seed
  int size = 64;       // synthetic images are generated at the output size
};

class Source {
 public:
  virtual ~Source() = default;
  virtual int64_t size() const = 0;
  virtual std::string name(int64_t item) const = 0;    // stored in `filenames`
  virtual int64_t source_index(int64_t item) const = 0; // stored in `index`
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

// A synthetic image: deterministic in (seed, index), smooth gradients plus noise.
void synthetic_image(uint64_t seed, int64_t index, int size, int channels, Image& out);

}  // namespace dcgan::prep
