// The checkpoint room's files of tensors (internal): torch's archives written durably and read
// back by name, every tensor's shape checked before it is copied in.
#pragma once

#include <sstream>
#include <string>

#include <torch/torch.h>

namespace dcgan::train::checkpoint {

// The bytes torch::save writes for a module or an optimizer.
template <class Saveable>
std::string serialized_bytes(const Saveable& value) {
  std::ostringstream out;
  torch::save(value, out);
  return out.str();
}
std::string archive_bytes(torch::serialize::OutputArchive& archive);

// Writes and fsyncs one file of a checkpoint; Error naming it (a full disk gets the remedy).
void write_durable(const std::string& path, const std::string& bytes);

// A checkpoint file as an archive on the CPU; DataError naming it when torch cannot read it.
torch::serialize::InputArchive open_archive(const std::string& path);

// UsageError "<what>: tensor '<name>' has shape [..] in the checkpoint but [..] in the model"
// unless `saved` and `target` have the same shape.
void check_shape(const std::string& what, const std::string& name, const torch::Tensor& saved,
                 const torch::Tensor& target);

}  // namespace dcgan::train::checkpoint
