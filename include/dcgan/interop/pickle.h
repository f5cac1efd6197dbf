// The pickle inside a PyTorch state_dict file (data.pkl of torch.save's zip archive), without
// torch: the tensors it names, each a view of a storage record (data/<key>), and the writer of the
// same. The reader is restricted like torch.load(weights_only=True): it knows the opcodes and
// globals a state_dict pickle uses (collections.OrderedDict, torch._utils._rebuild_tensor_v2 and
// _rebuild_parameter, torch.<T>Storage) and refuses every other global, so a file can never run
// code. Torch-free so that the sanitizer build fuzzes it (tests/fuzz/fuzz_state_dict_pickle.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dcgan::interop {

// One tensor of a state_dict: a strided view of a storage.
struct TensorRecord {
  std::string name;           // the state_dict key, e.g. main.0.weight
  std::string storage_class;  // FloatStorage, LongStorage, ... (torch.<class>)
  std::string storage_key;    // the storage's record: data/<key>
  int64_t storage_numel = 0;  // elements of the storage
  int64_t offset = 0;         // the view's first element in the storage
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
};

// The state_dict's tensors in order, from a pickle torch.save(state_dict) wrote (a dict or
// OrderedDict of str -> Tensor or Parameter, pickle protocol 2 to 5). Every view is checked to lie
// inside its storage's element count. Throws DataError naming `origin`: a disallowed global or
// opcode, a truncated or malformed pickle, a value that is not a dict of named tensors.
std::vector<TensorRecord> parse_state_dict_pickle(std::string_view pickle,
                                                  const std::string& origin);

// The protocol-2 pickle torch.save writes for these tensors (an OrderedDict of
// _rebuild_tensor_v2 calls on persistent storage ids), which torch.load(weights_only=True) reads.
std::string state_dict_pickle(const std::vector<TensorRecord>& tensors);

}  // namespace dcgan::interop
