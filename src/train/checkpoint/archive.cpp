// Torch archives of a checkpoint: written durably, read by name with every shape checked.
#include "archive.h"

#include <cerrno>
#include <cstring>

#include "dcgan/common/atomic_file.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "dcgan/train/checkpoint.h"

namespace dcgan::train {
namespace checkpoint {
namespace {

// Loads module tensors by name from `archive` (the layout torch::save(module) writes: tensors by
// local name, children as nested archives), checking each shape before copying in place.
void load_tensors(torch::serialize::InputArchive& archive, torch::nn::Module& module,
                  const std::string& prefix, const std::string& what) {
  torch::NoGradGuard no_grad;
  auto load_one = [&](const std::string& name, torch::Tensor& target, bool is_buffer) {
    torch::Tensor saved;
    if (!archive.try_read(name, saved, is_buffer)) {
      throw UsageError(str(what, ": checkpoint has no tensor '", prefix, name, "'"));
    }
    check_shape(what, prefix + name, saved, target);
    target.copy_(saved);
  };
  for (auto& item : module.named_parameters(/*recurse=*/false))
    load_one(item.key(), item.value(), false);
  for (auto& item : module.named_buffers(/*recurse=*/false))
    load_one(item.key(), item.value(), true);
  for (auto& child : module.named_children()) {
    torch::serialize::InputArchive child_archive;
    if (!archive.try_read(child.key(), child_archive)) {
      throw UsageError(str(what, ": checkpoint has no module '", prefix, child.key(), "'"));
    }
    load_tensors(child_archive, *child.value(), prefix + child.key() + ".", what);
  }
}

}  // namespace

std::string archive_bytes(torch::serialize::OutputArchive& archive) {
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

void write_durable(const std::string& path, const std::string& bytes) {
  if (const int err = write_and_fsync(path, bytes)) {
    const bool full = err == ENOSPC || err == EDQUOT || err == EFBIG;
    throw Error(str(
        "cannot write checkpoint file ", path, ": ", std::strerror(err),
        full ? " HINT: free disk space or lower --keep; the previous checkpoint is intact" : ""));
  }
}

torch::serialize::InputArchive open_archive(const std::string& path) {
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, torch::Device(torch::kCPU));
  } catch (const c10::Error& e) {
    throw DataError(str("cannot read checkpoint file ", path, ": ", e.what_without_backtrace()));
  }
  return archive;
}

void check_shape(const std::string& what, const std::string& name, const torch::Tensor& saved,
                 const torch::Tensor& target) {
  if (saved.sizes() == target.sizes()) return;
  throw UsageError(dcgan::str(what, ": tensor '", name, "' has shape ", saved.sizes(),
                              " in the checkpoint but ", target.sizes(), " in the model"));
}

}  // namespace checkpoint

void load_module_checked(const std::string& file, torch::nn::Module& module,
                         const std::string& what) {
  auto archive = checkpoint::open_archive(file);
  checkpoint::load_tensors(archive, module, "", what);
}

}  // namespace dcgan::train
