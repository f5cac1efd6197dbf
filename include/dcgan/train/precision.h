// The step's numerics and layout: --precision fp32 | tf32 | bf16 and --channels-last.
// - fp32: float32 everywhere; on CUDA TF32 is switched off in cuBLAS and cuDNN (PyTorch allows it
//   in cuDNN by default), so fp32 means fp32.
// - tf32: fp32 with TF32 tensor-core matmuls and convolutions (CUDA only; the same as fp32 on CPU).
// - bf16: autocast to bfloat16 for the forward passes on CPU and CUDA (AutocastScope); the
//   parameters, gradients, optimizer state and losses stay float32.
#pragma once

#include <string>

#include <torch/torch.h>

namespace dcgan::train {

enum class Precision { kFp32, kTf32, kBf16 };

// "fp32", "tf32", "bf16"; throws UsageError naming --precision otherwise.
Precision parse_precision(const std::string& name);

// Sets the process-wide TF32 switches of cuBLAS and cuDNN for `precision` (on only for tf32).
void apply_precision(Precision precision);

// bf16 autocast on `device`'s type while alive when `enabled` (nothing otherwise). Backward runs
// outside it, as PyTorch recommends. Restores the previous state; the outermost scope clears
// autocast's cast cache.
class AutocastScope {
 public:
  AutocastScope(bool enabled, torch::Device device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
  c10::DeviceType type_;
  bool was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

// The memory format of the run: ChannelsLast under --channels-last, else Contiguous.
at::MemoryFormat memory_format(bool channels_last);

// Gives every 4-D parameter and buffer of `module` `format`, in place (the tensors keep their
// identity, so optimizers and gradient reducers built on them stay valid).
void set_memory_format(torch::nn::Module& module, at::MemoryFormat format);

}  // namespace dcgan::train
