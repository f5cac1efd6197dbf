// Precision switches, the autocast scope and the memory format of modules (see precision.h).
#include "dcgan/train/precision.h"

#include <ATen/autocast_mode.h>

#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"

namespace dcgan::train {

Precision parse_precision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "tf32") return Precision::kTf32;
  if (name == "bf16") return Precision::kBf16;
  throw UsageError(str("--precision must be fp32, tf32 or bf16, got '", name, "'"));
}

void apply_precision(Precision precision) {
  const bool tf32 = precision == Precision::kTf32;
  at::globalContext().setAllowTF32CuBLAS(tf32);
  at::globalContext().setAllowTF32CuDNN(tf32);
}

AutocastScope::AutocastScope(bool enabled, torch::Device device)
    : enabled_(enabled), type_(device.type()) {
  if (!enabled_) return;
  was_enabled_ = at::autocast::is_autocast_enabled(type_);
  was_dtype_ = at::autocast::get_autocast_dtype(type_);
  at::autocast::set_autocast_enabled(type_, true);
  at::autocast::set_autocast_dtype(type_, at::kBFloat16);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!enabled_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(type_, was_enabled_);
  at::autocast::set_autocast_dtype(type_, was_dtype_);
}

at::MemoryFormat memory_format(bool channels_last) {
  return channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
}

void set_memory_format(torch::nn::Module& module, at::MemoryFormat format) {
  torch::NoGradGuard no_grad;
  auto convert = [&](torch::Tensor t) {
    if (t.defined() && t.dim() == 4 && !t.is_contiguous(format)) t.set_data(t.contiguous(format));
  };
  for (const torch::Tensor& p : module.parameters()) convert(p);
  for (const torch::Tensor& b : module.buffers()) convert(b);
}

}  // namespace dcgan::train
