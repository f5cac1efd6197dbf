// One shard file opened read-only: schema checks against the manifest, then image/metadata reads.
#include "dcgan/data/shard_file.h"

#include <sys/stat.h>

#include "dcgan/common/check.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "dcgan/data/schema.h"

namespace dcgan::data {
namespace {

h5::Id open_readonly(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw DataError(str("shard ", path, " is missing"));
  h5::init();
  h5::Id fapl = H5_ID(H5Pcreate(H5P_FILE_ACCESS));
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (file < 0)
    throw DataError(str("shard ", path, " is not a readable HDF5 file: ", h5::error_stack_text()));
  return h5::Id(file);
}

h5::Id open_dataset(hid_t file, const char* name, const std::string& where) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0)
    throw DataError(str(where, ": missing dataset '", name, "'"));
  // No chunk cache: images are read once per epoch in random order, so caching only costs copies.
  h5::Id dapl = H5_ID(H5Pcreate(H5P_DATASET_ACCESS));
  H5_CHECK(H5Pset_chunk_cache(dapl.get(), 0, 0, 1.0));
  const hid_t dset = H5Dopen2(file, name, dapl.get());
  if (dset < 0)
    throw DataError(str(where, ": cannot open dataset '", name, "': ", h5::error_stack_text()));
  return h5::Id(dset);
}

void expect_int_type(hid_t dset, size_t bytes, H5T_sign_t sign, const std::string& where) {
  h5::Id type = H5_ID(H5Dget_type(dset));
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_size(type.get()) != bytes ||
      H5Tget_sign(type.get()) != sign)
    throw DataError(str(where, " has the wrong element type (expected ", bytes, "-byte ",
                        sign == H5T_SGN_NONE ? "unsigned" : "signed", " integers)"));
}

}  // namespace

ShardFile::ShardFile(const std::string& path, const ShardEntry& entry, const Manifest& manifest)
    : path_(path), count_(entry.count) {
  const std::string where = str("shard ", path_);
  file_ = open_readonly(path_);
  const long long version = h5::read_attr_int(file_.get(), "schema_version", where);
  const long long count = h5::read_attr_int(file_.get(), "count", where);
  const long long size = h5::read_attr_int(file_.get(), "size", where);
  const long long channels = h5::read_attr_int(file_.get(), "channels", where);
  if (version != manifest.schema_version || count != entry.count || size != manifest.image_size ||
      channels != manifest.channels)
    throw DataError(str(where, ": attributes (schema_version ", version, ", count ", count,
                        ", size ", size, ", channels ", channels, ") disagree with the manifest (",
                        manifest.schema_version, ", ", entry.count, ", ", manifest.image_size, ", ",
                        manifest.channels, ")"));
  images_ = open_dataset(file_.get(), schema::kImages, where);
  expect_int_type(images_.get(), 1, H5T_SGN_NONE, where + " dataset 'images'");
  const auto dims = h5::dataset_dims(images_.get(), 4, where + " dataset 'images'");
  const std::vector<hsize_t> want = {
      static_cast<hsize_t>(count_), static_cast<hsize_t>(manifest.image_size),
      static_cast<hsize_t>(manifest.image_size), static_cast<hsize_t>(manifest.channels)};
  if (dims != want)
    throw DataError(str(where, ": dataset 'images' is [", dims[0], ", ", dims[1], ", ", dims[2],
                        ", ", dims[3], "], the manifest says [", want[0], ", ", want[1], ", ",
                        want[2], ", ", want[3], "]"));
  image_bytes_ = static_cast<size_t>(manifest.image_size) * manifest.image_size * manifest.channels;
  attr_count_ = static_cast<int>(manifest.attr_names.size());
  file_space_ = H5_ID(H5Dget_space(images_.get()));
  const hsize_t one[4] = {1, want[1], want[2], want[3]};
  one_space_ = H5_ID(H5Screate_simple(4, one, nullptr));
}

void ShardFile::read_selection(int64_t first, int64_t n, uint8_t* out) {
  if (first < 0 || n < 0 || first + n > count_)
    throw DataError(str("shard ", path_, ": images [", first, ", ", first + n, ") are outside [0, ",
                        count_, ")"));
  if (n == 0) return;
  const hsize_t start[4] = {static_cast<hsize_t>(first), 0, 0, 0};
  hsize_t dims[4];
  H5_CHECK(H5Sget_simple_extent_dims(file_space_.get(), dims, nullptr));
  dims[0] = static_cast<hsize_t>(n);
  H5_CHECK(H5Sselect_hyperslab(file_space_.get(), H5S_SELECT_SET, start, nullptr, dims, nullptr));
  h5::Id range_space;
  hid_t mem = one_space_.get();
  if (n != 1) {
    range_space = H5_ID(H5Screate_simple(4, dims, nullptr));
    mem = range_space.get();
  }
  if (H5Dread(images_.get(), H5T_NATIVE_UINT8, mem, file_space_.get(), H5P_DEFAULT, out) < 0)
    throw DataError(str("shard ", path_, ": cannot read images [", first, ", ", first + n,
                        ") (checksum or I/O failure): ", h5::error_stack_text()));
}

void ShardFile::read_range(int64_t first, int64_t n, uint8_t* out) {
  read_selection(first, n, out);
}

void ShardFile::read_one(int64_t local_idx, uint8_t* out) { read_selection(local_idx, 1, out); }

namespace {

template <class T>
std::vector<T> read_ints(hid_t file, const char* name, hid_t mem_type, size_t bytes,
                         H5T_sign_t sign, hsize_t expected_elems, const std::string& where) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return {};
  h5::Id dset = open_dataset(file, name, where);
  expect_int_type(dset.get(), bytes, sign, str(where, " dataset '", name, "'"));
  h5::Id space = H5_ID(H5Dget_space(dset.get()));
  const hssize_t elems = H5Sget_simple_extent_npoints(space.get());
  if (elems < 0 || static_cast<hsize_t>(elems) != expected_elems)
    throw DataError(
        str(where, ": dataset '", name, "' has ", elems, " elements, expected ", expected_elems));
  std::vector<T> out(expected_elems);
  if (!out.empty() && H5Dread(dset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    throw DataError(str(where, ": cannot read dataset '", name, "': ", h5::error_stack_text()));
  return out;
}

}  // namespace

std::vector<int64_t> ShardFile::read_index() {
  return read_ints<int64_t>(file_.get(), schema::kIndex, H5T_NATIVE_INT64, 8, H5T_SGN_2,
                            static_cast<hsize_t>(count_), "shard " + path_);
}

std::vector<int64_t> ShardFile::read_labels() {
  return read_ints<int64_t>(file_.get(), schema::kLabels, H5T_NATIVE_INT64, 8, H5T_SGN_2,
                            static_cast<hsize_t>(count_), "shard " + path_);
}

std::vector<int8_t> ShardFile::read_attrs() {
  if (attr_count_ == 0) return {};
  return read_ints<int8_t>(file_.get(), schema::kAttrs, H5T_NATIVE_INT8, 1, H5T_SGN_2,
                           static_cast<hsize_t>(count_) * attr_count_, "shard " + path_);
}

std::vector<std::string> ShardFile::read_filenames() {
  const std::string where = "shard " + path_;
  h5::Id dset = open_dataset(file_.get(), schema::kFilenames, where);
  h5::Id type = H5_ID(H5Dget_type(dset.get()));
  const size_t len = H5Tget_size(type.get());
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0 || len == 0 ||
      len > static_cast<size_t>(schema::kMaxFilenameBytes))
    throw DataError(str(where, ": dataset 'filenames' is not fixed-length strings"));
  h5::Id space = H5_ID(H5Dget_space(dset.get()));
  if (H5Sget_simple_extent_npoints(space.get()) != count_)
    throw DataError(str(where, ": dataset 'filenames' does not have ", count_, " entries"));
  std::vector<char> buf(static_cast<size_t>(count_) * len + 1, '\0');
  if (count_ > 0 && H5Dread(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()) < 0)
    throw DataError(str(where, ": cannot read 'filenames': ", h5::error_stack_text()));
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(count_));
  for (int64_t i = 0; i < count_; ++i) {
    const char* s = buf.data() + i * len;
    size_t n = 0;
    while (n < len && s[n] != '\0') ++n;
    names.emplace_back(s, n);
  }
  return names;
}

}  // namespace dcgan::data
