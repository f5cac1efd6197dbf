// Deterministic HDF5 shard writing: object timestamps off, 1.10 file format, chunked images with
// Fletcher32, metadata in one go at the end so identical inputs give identical bytes.
#include "shard_writer.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/check.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/sha256.h"
#include "dcgan/common/str.h"
#include "dcgan/data/schema.h"

namespace dcgan::prep {
namespace {

using data::h5::Id;

Id untimed_dcpl() {
  Id dcpl = H5_ID(H5Pcreate(H5P_DATASET_CREATE));
  H5_CHECK(H5Pset_obj_track_times(dcpl.get(), false));
  return dcpl;
}

template <class T>
void write_1d(hid_t file, const char* name, hid_t file_type, hid_t mem_type,
              const std::vector<T>& values, hsize_t cols = 1) {
  const hsize_t rows = cols == 0 ? 0 : values.size() / cols;
  const hsize_t dims[2] = {rows, cols};
  Id space = H5_ID(H5Screate_simple(cols == 1 ? 1 : 2, dims, nullptr));
  Id dcpl = untimed_dcpl();
  Id dset =
      H5_ID(H5Dcreate2(file, name, file_type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
  if (!values.empty())
    H5_CHECK(H5Dwrite(dset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()));
}

void write_strings(hid_t file, const char* name, const std::vector<std::string>& values) {
  size_t len = 1;
  for (const auto& v : values) len = std::max(len, v.size());
  if (len > static_cast<size_t>(data::schema::kMaxFilenameBytes))
    throw DataError(str("file name longer than ", data::schema::kMaxFilenameBytes, " bytes"));
  std::vector<char> buf(values.size() * len, '\0');
  for (size_t i = 0; i < values.size(); ++i)
    std::copy(values[i].begin(), values[i].end(), &buf[i * len]);
  Id type = H5_ID(H5Tcopy(H5T_C_S1));
  H5_CHECK(H5Tset_size(type.get(), len));
  H5_CHECK(H5Tset_cset(type.get(), H5T_CSET_UTF8));
  const hsize_t dims[1] = {values.size()};
  Id space = H5_ID(H5Screate_simple(1, dims, nullptr));
  Id dcpl = untimed_dcpl();
  Id dset =
      H5_ID(H5Dcreate2(file, name, type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
  if (!values.empty())
    H5_CHECK(H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()));
}

}  // namespace

ShardWriter::ShardWriter(const std::string& final_path, const ShardLayout& layout)
    : final_path_(final_path), partial_path_(final_path + ".partial"), layout_(layout) {
  data::h5::init();
  Id fcpl = H5_ID(H5Pcreate(H5P_FILE_CREATE));
  H5_CHECK(H5Pset_obj_track_times(fcpl.get(), false));  // the root group carries no time either
  Id fapl = H5_ID(H5Pcreate(H5P_FILE_ACCESS));
  H5_CHECK(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V110, H5F_LIBVER_V110));
  const hid_t file = H5Fcreate(partial_path_.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get());
  if (file < 0)
    throw Error(str("cannot create shard ", partial_path_, ": ", data::h5::error_stack_text()));
  file_ = Id(file);
  const hsize_t s = static_cast<hsize_t>(layout.image_size),
                c = static_cast<hsize_t>(layout.channels);
  const hsize_t dims[4] = {0, s, s, c};
  const hsize_t maxdims[4] = {H5S_UNLIMITED, s, s, c};
  const hsize_t chunk[4] = {static_cast<hsize_t>(std::max(1, layout.chunk_images)), s, s, c};
  Id space = H5_ID(H5Screate_simple(4, dims, maxdims));
  Id dcpl = untimed_dcpl();
  H5_CHECK(H5Pset_chunk(dcpl.get(), 4, chunk));
  H5_CHECK(H5Pset_fletcher32(dcpl.get()));
  images_ = H5_ID(H5Dcreate2(file_.get(), data::schema::kImages, H5T_STD_U8LE, space.get(),
                             H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
}

void ShardWriter::append(const uint8_t* images, int64_t n, const int64_t* index,
                         const std::vector<std::string>& names, const int64_t* labels,
                         const int8_t* attrs) {
  if (n <= 0) return;
  const hsize_t s = static_cast<hsize_t>(layout_.image_size),
                c = static_cast<hsize_t>(layout_.channels);
  const hsize_t new_dims[4] = {static_cast<hsize_t>(count_ + n), s, s, c};
  H5_CHECK(H5Dset_extent(images_.get(), new_dims));
  Id file_space = H5_ID(H5Dget_space(images_.get()));
  const hsize_t start[4] = {static_cast<hsize_t>(count_), 0, 0, 0};
  const hsize_t block[4] = {static_cast<hsize_t>(n), s, s, c};
  H5_CHECK(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, block, nullptr));
  Id mem_space = H5_ID(H5Screate_simple(4, block, nullptr));
  H5_CHECK(H5Dwrite(images_.get(), H5T_NATIVE_UINT8, mem_space.get(), file_space.get(), H5P_DEFAULT,
                    images));
  index_.insert(index_.end(), index, index + n);
  names_.insert(names_.end(), names.begin(), names.begin() + n);
  if (layout_.has_labels) labels_.insert(labels_.end(), labels, labels + n);
  if (layout_.attr_count > 0) attrs_.insert(attrs_.end(), attrs, attrs + n * layout_.attr_count);
  count_ += n;
}

void ShardWriter::write_metadata() {
  const hid_t f = file_.get();
  write_1d(f, data::schema::kIndex, H5T_STD_I64LE, H5T_NATIVE_INT64, index_);
  write_strings(f, data::schema::kFilenames, names_);
  if (layout_.has_labels)
    write_1d(f, data::schema::kLabels, H5T_STD_I64LE, H5T_NATIVE_INT64, labels_);
  if (layout_.attr_count > 0)
    write_1d(f, data::schema::kAttrs, H5T_STD_I8LE, H5T_NATIVE_INT8, attrs_,
             static_cast<hsize_t>(layout_.attr_count));
  data::h5::write_attr_int(f, "schema_version", data::kSchemaVersion);
  data::h5::write_attr_string(f, "source", layout_.source);
  data::h5::write_attr_string(f, "crop", layout_.crop);
  data::h5::write_attr_int(f, "size", layout_.image_size);
  data::h5::write_attr_int(f, "channels", layout_.channels);
  data::h5::write_attr_int(f, "count", count_);
}

data::ShardEntry ShardWriter::finish() {
  write_metadata();
  images_.reset();
  H5_CHECK(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL));
  file_.reset();
  fsync_path(partial_path_);
  if (std::rename(partial_path_.c_str(), final_path_.c_str()) != 0)
    throw Error(str("cannot rename ", partial_path_, " to ", final_path_));
  data::ShardEntry e;
  e.file = std::filesystem::path(final_path_).filename().string();
  e.count = count_;
  e.bytes = static_cast<int64_t>(std::filesystem::file_size(final_path_));
  e.sha256 = sha256_file(final_path_);
  return e;
}

}  // namespace dcgan::prep
