// PyTorch state_dict files: the format `torch.save(model.state_dict(), path)` writes and a bare
// `torch.load(path)` reads (weights_only=True, torch 2.11's default). A zip archive (libtorch's
// PyTorchStreamWriter/Reader, the same container torch.save uses) holding data.pkl, a pickle of
// an OrderedDict of tensors whose storages are the records data/0, data/1, ...
//
// libtorch has neither half. Measured with libtorch 2.11 against Python's torch.load of the same
// version, on the tutorial's Generator:
// - torch::save (of a module, a tensor vector or an OutputArchive) writes a TorchScript archive:
//   the default torch.load (weights_only=True) refuses it ("Cannot use weights_only=True with
//   TorchScript archives"), and weights_only=False returns a ScriptModule, not a state_dict.
// - torch::pickle_save of a Dict<string, Tensor> is refused by weights_only=True for one global,
//   torch.jit._pickle.restore_type_tag, which every reader would have to allow by hand.
// - torch::pickle_load refuses every file torch.save(model.state_dict()) writes, with an internal
//   assert ("Expected GenericDict but got None"): its unpickler turns the OrderedDict into None.
// So this room holds the one writer and the one reader of the format: the pickle (restricted like
// weights_only, so a file can never run code) in pickle.h, torch-free, which also lets the
// sanitizer build fuzz it; the zip container and the tensors here. Knows torch.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace dcgan::interop {

// Named tensors in order, as Module.state_dict() lists them.
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

// The module's parameters and buffers under PyTorch's dotted names, in state_dict order (each
// submodule's parameters, then its buffers, depth first): detached contiguous CPU copies.
StateDict module_state_dict(torch::nn::Module& module);

// The file's bytes for `tensors` (any dtype torch.save has a storage class for; any device).
std::string state_dict_bytes(const StateDict& tensors);

// state_dict_bytes written to `path` atomically. Throws Error naming the file on failure.
void save_state_dict(const std::string& path, const StateDict& tensors);

// Reads a file torch.save(state_dict) wrote (a dict or OrderedDict of str -> Tensor, tensors or
// Parameters, any pickle protocol up to 5), or save_state_dict wrote. Throws DataError naming the
// file: not a zip-format torch.save file (the legacy _use_new_zipfile_serialization=False format
// included), a damaged archive, a global outside the allowed set, a value that is not a tensor.
StateDict load_state_dict(const std::string& path);

// Copies `tensors` into `module` by name (dtype converted, device and memory format kept). Every
// parameter and buffer must be present with the module's shape, and no other name may be:
// otherwise UsageError naming `origin` and the tensor (strict, like load_state_dict(strict=True)).
void copy_state_dict(const StateDict& tensors, torch::nn::Module& module,
                     const std::string& origin);

}  // namespace dcgan::interop
