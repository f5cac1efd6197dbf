// HDF5 set-up, error-stack text for H5_CHECK, RAII ids and attribute helpers.
#include "dcgan/data/h5.h"

#include <cstdlib>
#include <mutex>

#include "dcgan/common/check.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"

namespace dcgan::data::h5 {
namespace {

herr_t collect_error(unsigned depth, const H5E_error2_t* err, void* out) {
  auto* text = static_cast<std::string*>(out);
  if (!text->empty()) *text += " <- ";
  *text += str(err->func_name ? err->func_name : "?", ": ", err->desc ? err->desc : "");
  (void)depth;
  return 0;
}

}  // namespace

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Must precede the library's initialisation: HDF5 1.10.8 reads it when opening files.
    ::setenv("HDF5_USE_FILE_LOCKING", "FALSE", /*overwrite=*/0);
    H5open();
  });
  // Per thread in a thread-safe HDF5, so repeated here rather than inside call_once.
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

std::string error_stack_text() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_error, &text);
  H5Eclear2(H5E_DEFAULT);
  return text.empty() ? "no HDF5 error message" : text;
}

void Id::reset() noexcept {
  if (id_ >= 0) {
    if (H5Iis_valid(id_) > 0 && H5Idec_ref(id_) < 0)
      log::warn(str("HDF5: failed to close id ", id_, ": ", error_stack_text()));
    id_ = H5I_INVALID_HID;
  }
}

Id checked(hid_t id, const char* expr, const char* file, int line) {
  if (id < 0) detail::throw_h5_error(id, expr, file, line);
  return Id(id);
}

void write_attr_int(hid_t obj, const char* name, long long value) {
  Id space = H5_ID(H5Screate(H5S_SCALAR));
  Id attr = H5_ID(H5Acreate2(obj, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
  H5_CHECK(H5Awrite(attr.get(), H5T_NATIVE_LLONG, &value));
}

void write_attr_string(hid_t obj, const char* name, const std::string& value) {
  Id type = H5_ID(H5Tcopy(H5T_C_S1));
  H5_CHECK(H5Tset_size(type.get(), value.empty() ? 1 : value.size()));
  H5_CHECK(H5Tset_cset(type.get(), H5T_CSET_UTF8));
  Id space = H5_ID(H5Screate(H5S_SCALAR));
  Id attr = H5_ID(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
  std::string padded = value.empty() ? std::string(1, '\0') : value;
  H5_CHECK(H5Awrite(attr.get(), type.get(), padded.data()));
}

long long read_attr_int(hid_t obj, const char* name, const std::string& where) {
  if (H5Aexists(obj, name) <= 0) throw DataError(str(where, ": missing attribute '", name, "'"));
  Id attr = H5_ID(H5Aopen(obj, name, H5P_DEFAULT));
  Id type = H5_ID(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) != H5T_INTEGER)
    throw DataError(str(where, ": attribute '", name, "' is not an integer"));
  long long value = 0;
  H5_CHECK(H5Aread(attr.get(), H5T_NATIVE_LLONG, &value));
  return value;
}

std::string read_attr_string(hid_t obj, const char* name, const std::string& where) {
  if (H5Aexists(obj, name) <= 0) throw DataError(str(where, ": missing attribute '", name, "'"));
  Id attr = H5_ID(H5Aopen(obj, name, H5P_DEFAULT));
  Id type = H5_ID(H5Aget_type(attr.get()));
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0)
    throw DataError(str(where, ": attribute '", name, "' is not a fixed-length string"));
  const size_t n = H5Tget_size(type.get());
  if (n == 0 || n > (1u << 20))
    throw DataError(str(where, ": attribute '", name, "' has size ", n));
  std::string value(n, '\0');
  H5_CHECK(H5Aread(attr.get(), type.get(), value.data()));
  value.resize(value.find('\0') == std::string::npos ? n : value.find('\0'));
  return value;
}

std::vector<hsize_t> dataset_dims(hid_t dset, int expected_rank, const std::string& where) {
  Id space = H5_ID(H5Dget_space(dset));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank != expected_rank)
    throw DataError(str(where, ": has rank ", rank, ", expected ", expected_rank));
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5_CHECK(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr));
  return dims;
}

}  // namespace dcgan::data::h5

namespace dcgan::detail {

void throw_h5_error(long long code, const char* expr, const char* file, int line) {
  throw LibraryError(str(log::rank_tag(), " HDF5 error ", code, " (", data::h5::error_stack_text(),
                         ") in ", expr, " at ", file, ":", line));
}

}  // namespace dcgan::detail
