// RAII for HDF5 ids and the HDF5 set-up shared by the shard writer and reader. Knows HDF5 only.
#pragma once

#include <hdf5.h>

#include <string>
#include <vector>

namespace dcgan::data::h5 {

// Turns off HDF5's automatic error printing (errors become exceptions with HDF5's own message)
// and file locking (NFS/Lustre; HDF5 1.10.8 has no H5Pset_file_locking, so the documented
// HDF5_USE_FILE_LOCKING=FALSE is set unless the user set it). Idempotent; call before any HDF5 use.
void init();

// HDF5's current error stack as one line ("H5Dread: ... <- H5Z_filter_fletcher32: ..."), cleared.
std::string error_stack_text();

// Owns one HDF5 id of any kind; closes it with H5Idec_ref. Move-only.
class Id {
 public:
  Id() = default;
  explicit Id(hid_t id) : id_(id) {}
  ~Id() noexcept { reset(); }
  Id(Id&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  Id& operator=(Id&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = other.id_;
      other.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Id(const Id&) = delete;
  Id& operator=(const Id&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() noexcept;

 private:
  hid_t id_ = H5I_INVALID_HID;
};

// Checks `id` (throwing LibraryError with HDF5's message when negative) and takes ownership.
Id checked(hid_t id, const char* expr, const char* file, int line);
#define H5_ID(expr) ::dcgan::data::h5::checked((expr), #expr, __FILE__, __LINE__)

// Attribute helpers on a file or object. Readers throw DataError naming `where` when missing.
void write_attr_int(hid_t obj, const char* name, long long value);
void write_attr_string(hid_t obj, const char* name, const std::string& value);
long long read_attr_int(hid_t obj, const char* name, const std::string& where);
std::string read_attr_string(hid_t obj, const char* name, const std::string& where);

// Dimensions of a dataset; throws DataError naming `where` when the rank is not `expected_rank`.
std::vector<hsize_t> dataset_dims(hid_t dset, int expected_rank, const std::string& where);

}  // namespace dcgan::data::h5
