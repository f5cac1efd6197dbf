// PyTorch state_dict files: the zip container (libtorch's PyTorchStreamWriter/Reader, which
// torch.save and torch.load use too) around the pickle of pickle.cpp, and the tensors.
#include "dcgan/interop/state_dict.h"

#include <caffe2/serialize/inline_container.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <sstream>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "dcgan/interop/pickle.h"

namespace dcgan::interop {
namespace {

// The storage class torch.save names for each element type, and back.
struct StorageClass {
  const char* name;
  torch::ScalarType dtype;
};
constexpr StorageClass kStorageClasses[] = {
    {"FloatStorage", torch::kFloat},  {"DoubleStorage", torch::kDouble},
    {"HalfStorage", torch::kHalf},    {"BFloat16Storage", torch::kBFloat16},
    {"LongStorage", torch::kLong},    {"IntStorage", torch::kInt},
    {"ShortStorage", torch::kShort},  {"CharStorage", torch::kChar},
    {"ByteStorage", torch::kByte},    {"BoolStorage", torch::kBool},
    {"UntypedStorage", torch::kByte},  // last: never chosen for writing
};

const char* storage_class(torch::ScalarType dtype) {
  for (const StorageClass& c : kStorageClasses) {
    if (c.dtype == dtype) return c.name;
  }
  throw UsageError(dcgan::str("no torch storage class for dtype ", dtype));
}

torch::ScalarType storage_dtype(const std::string& name) {
  for (const StorageClass& c : kStorageClasses) {
    if (name == c.name) return c.dtype;
  }
  throw UsageError(dcgan::str("unknown storage class ", name));  // parse_state_dict_pickle checks
}

// The storages of an archive, each read once (tensors may share one).
class Storages {
 public:
  Storages(caffe2::serialize::PyTorchStreamReader& archive, std::string path)
      : archive_(archive), path_(std::move(path)) {}

  torch::Tensor flat(const TensorRecord& t) {
    const auto cached = flat_.find(t.storage_key);
    if (cached != flat_.end()) return cached->second;
    const std::string record = "data/" + t.storage_key;
    if (!archive_.hasRecord(record))
      throw DataError(dcgan::str(path_, ": the archive has no record ", record));
    const torch::ScalarType dtype = storage_dtype(t.storage_class);
    const auto element = static_cast<int64_t>(c10::elementSize(dtype));
    const auto [data, size] = archive_.getRecord(record);
    if (static_cast<int64_t>(size) / element != t.storage_numel ||
        static_cast<int64_t>(size) % element != 0) {
      throw DataError(dcgan::str(path_, ": record ", record, " holds ", size, " bytes, not ",
                                 t.storage_numel, " x ", element));
    }
    torch::Tensor flat = torch::empty({t.storage_numel}, torch::TensorOptions().dtype(dtype));
    if (size > 0) std::memcpy(flat.data_ptr(), data.get(), size);
    flat_.emplace(t.storage_key, flat);
    return flat;
  }

 private:
  caffe2::serialize::PyTorchStreamReader& archive_;
  std::string path_;
  std::map<std::string, torch::Tensor> flat_;
};

}  // namespace

StateDict module_state_dict(torch::nn::Module& module) {
  StateDict out;
  auto add = [&](const std::string& prefix, const std::string& name, const torch::Tensor& t) {
    out.emplace_back(prefix.empty() ? name : prefix + "." + name,
                     t.detach().to(torch::kCPU).clone(at::MemoryFormat::Contiguous));
  };
  auto add_own = [&](const std::string& prefix, const torch::nn::Module& m) {
    for (const auto& p : m.named_parameters(/*recurse=*/false)) add(prefix, p.key(), p.value());
    for (const auto& b : m.named_buffers(/*recurse=*/false)) add(prefix, b.key(), b.value());
  };
  add_own("", module);  // not through named_modules: that needs the module in a shared_ptr
  for (const auto& item : module.named_modules("", /*include_self=*/false))
    add_own(item.key(), *item.value());
  return out;
}

std::string state_dict_bytes(const StateDict& tensors) {
  std::vector<torch::Tensor> storages;
  std::vector<TensorRecord> records;
  for (const auto& [name, tensor] : tensors) {
    const torch::Tensor t = tensor.detach().to(torch::kCPU).clone(at::MemoryFormat::Contiguous);
    TensorRecord r;
    r.name = name;
    r.storage_class = storage_class(t.scalar_type());
    r.storage_key = std::to_string(storages.size());
    r.storage_numel = t.numel();
    r.sizes = t.sizes().vec();
    r.strides = t.strides().vec();
    records.push_back(std::move(r));
    storages.push_back(t);
  }
  const std::string pickle = state_dict_pickle(records);

  std::string out;
  caffe2::serialize::PyTorchStreamWriter writer([&out](const void* data, size_t size) {
    out.append(static_cast<const char*>(data), size);
    return size;
  });
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  const std::string order = "little";
  writer.writeRecord("byteorder", order.data(), order.size());
  for (size_t i = 0; i < storages.size(); ++i) {
    const torch::Tensor& t = storages[i];
    writer.writeRecord(dcgan::str("data/", i), t.data_ptr(), t.nbytes());
  }
  writer.writeEndOfFile();
  return out;
}

void save_state_dict(const std::string& path, const StateDict& tensors) {
  write_file_atomic(path, state_dict_bytes(tensors));
}

StateDict load_state_dict(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.rfind("PK\x03\x04", 0) != 0) {
    throw DataError(dcgan::str(
        path, ": not a zip-format torch.save file",
        !bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x80  // pickle PROTO
            ? " (it is the legacy format) HINT: save it again with torch.save's default format"
            : " HINT: save model.state_dict() with torch.save"));
  }
  try {
    std::istringstream stream(bytes);
    caffe2::serialize::PyTorchStreamReader archive(&stream);
    if (archive.hasRecord("byteorder")) {
      const auto [data, size] = archive.getRecord("byteorder");
      const std::string order(static_cast<const char*>(data.get()), size);
      if (order != "little")
        throw DataError(dcgan::str(path, ": tensors stored ", order, "-endian"));
    }
    if (!archive.hasRecord("data.pkl"))
      throw DataError(dcgan::str(path, ": the archive has no data.pkl (not a torch.save file)"));
    const auto [data, size] = archive.getRecord("data.pkl");
    const std::string pickle(static_cast<const char*>(data.get()), size);
    Storages storages(archive, path);
    StateDict out;
    for (const TensorRecord& t : parse_state_dict_pickle(pickle, path)) {
      const torch::Tensor flat = storages.flat(t);
      const bool empty = std::find(t.sizes.begin(), t.sizes.end(), 0) != t.sizes.end();
      out.emplace_back(t.name, empty ? torch::empty(t.sizes, flat.options())
                                     : flat.as_strided(t.sizes, t.strides, t.offset).clone());
    }
    return out;
  } catch (const c10::Error& e) {  // the zip reader: a truncated or damaged archive
    throw DataError(dcgan::str(path, ": damaged archive: ", e.what_without_backtrace()));
  }
}

void copy_state_dict(const StateDict& tensors, torch::nn::Module& module,
                     const std::string& origin) {
  std::map<std::string, const torch::Tensor*> by_name;
  for (const auto& [name, tensor] : tensors) {
    if (!by_name.emplace(name, &tensor).second)
      throw UsageError(dcgan::str(origin, ": tensor '", name, "' appears twice"));
  }
  std::vector<std::pair<torch::Tensor, const torch::Tensor*>> copies;
  auto check = [&](const std::string& name, const torch::Tensor& target) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) {
      throw UsageError(dcgan::str(origin, ": has no tensor '", name, "' (shape ", target.sizes(),
                                  " in the model)"));
    }
    if (it->second->sizes() != target.sizes()) {
      throw UsageError(dcgan::str(origin, ": tensor '", name, "' has shape ", it->second->sizes(),
                                  " in the file but ", target.sizes(), " in the model"));
    }
    copies.emplace_back(target, it->second);
    by_name.erase(it);
  };
  for (const auto& p : module.named_parameters(/*recurse=*/true)) check(p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/true)) check(b.key(), b.value());
  if (!by_name.empty()) {
    throw UsageError(
        dcgan::str(origin, ": tensor '", by_name.begin()->first, "' is not in the model",
                   by_name.size() > 1 ? dcgan::str(" (nor are ", by_name.size() - 1, " more)") : "",
                   " HINT: the file must be the state_dict of the same architecture"));
  }
  torch::NoGradGuard no_grad;
  for (auto& [target, source] : copies) target.copy_(*source);
}

}  // namespace dcgan::interop
