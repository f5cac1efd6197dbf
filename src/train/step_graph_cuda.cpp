// The CUDA graph of the training step (see step_graph.h), in the CUDA library only: its factory
// checks the arguments and calls make_cuda_step_graph through cuda_parts.h.
#include <ATen/core/CachingHostAllocator.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "cuda_parts.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"
#include "dcgan/train/step_graph.h"

namespace dcgan::train {
namespace {

// A CUDAGraph whose capture can be abandoned. When the captured step throws, the stream is still
// capturing (every later CUDA call on it fails with "operation not permitted when stream is
// capturing", hiding the step's own error) and the caching allocators still allocate into the
// graph's private pool: capture_end() cannot help, since it ends the CUDA capture and then throws
// before it ends the pool's recording. abort_capture() ends both, on the capturing thread, and
// releases the pool; no call in it throws.
class AbortableGraph final : public at::cuda::CUDAGraph {
 public:
  void abort_capture() noexcept {
    const cudaStream_t stream = capture_stream_.stream();
    cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
    if (cudaStreamIsCapturing(stream, &status) == cudaSuccess &&
        status != cudaStreamCaptureStatusNone) {
      cudaGraph_t partial = nullptr;
      (void)cudaStreamEndCapture(stream, &partial);  // an invalidated capture returns an error
      if (partial != nullptr) (void)cudaGraphDestroy(partial);
    }
    (void)cudaGetLastError();  // the capture's error is the step's, already on its way up
    // Each on its own: one that finds its part done (capture_end got past it) must not skip the
    // rest. Once capture_end succeeded (capture_ended_), ~CUDAGraph's reset() releases the pools.
    attempt([&] { c10::cuda::CUDACachingAllocator::endAllocateToPool(capture_dev_, mempool_id_); });
    attempt([&] { at::getHostAllocator(at::kCUDA)->end_allocate_to_pool(mempool_id_); });
    if (!capture_ended_) {
      attempt([&] { c10::cuda::CUDACachingAllocator::releasePool(capture_dev_, mempool_id_); });
      attempt([&] { at::getHostAllocator(at::kCUDA)->release_pool(mempool_id_); });
    }
  }

 private:
  template <class F>
  static void attempt(F&& f) noexcept {
    try {
      f();
    } catch (...) {  // not recording (capture_end got that far): nothing to end
    }
  }
};

class CudaStepGraph final : public StepGraph {
 public:
  CudaStepGraph(torch::Device device, at::Generator generator, int64_t warmup)
      : device_(device),
        generator_(std::move(generator)),
        warmup_(warmup),
        // Capture needs a stream other than the legacy default one; warm-up runs there too, so
        // that the lazily made state lives on the stream that the graph replays on.
        stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index())) {}

  StepResult run(const Step& step) override;
  bool captured() const override { return graph_ != nullptr; }

 private:
  torch::Device device_;
  at::Generator generator_;
  int64_t warmup_;
  c10::cuda::CUDAStream stream_;
  std::unique_ptr<AbortableGraph> graph_;
  StepResult outputs_;  // the graph's own output tensors
  int64_t calls_ = 0;
  bool capture_failed_ = false;
};

StepResult CudaStepGraph::run(const Step& step) {
  const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream(device_.index());
  at::cuda::CUDAEvent inputs_ready;
  inputs_ready.record(caller);
  inputs_ready.block(stream_);  // the step sees the batch the caller copied in
  StepResult result;
  {
    c10::cuda::CUDAStreamGuard on_side(stream_);
    ++calls_;
    if (calls_ <= warmup_) {
      result = step();
    } else {
      if (!graph_) {
        // A capture that threw leaves no graph to replay: the run ends with the error, and a
        // later call refuses rather than replay half a capture.
        if (capture_failed_) throw Error("CUDA graph: the step's capture failed earlier");
        capture_failed_ = true;
        stream_.synchronize();  // the warm-up's work is done before capture begins
        auto graph = std::make_unique<AbortableGraph>();
        graph->register_generator_state(generator_);
        graph->capture_begin();
        try {
          outputs_ = step();
          graph->capture_end();  // throws before ending the pool when the capture was invalidated
        } catch (...) {
          graph->abort_capture();  // the first error goes up, not one of the clean-up's
          throw;
        }
        graph_ = std::move(graph);
        capture_failed_ = false;
        log::info(str("CUDA graph: the step is captured after ", warmup_,
                      " eager steps; every later step replays it"));
      }
      graph_->replay();
      result = outputs_;
    }
  }
  at::cuda::CUDAEvent step_done;
  step_done.record(stream_);
  step_done.block(caller);  // the caller's stream sees the step's results
  return result;
}

}  // namespace

namespace detail {

std::unique_ptr<StepGraph> make_cuda_step_graph(torch::Device device, at::Generator generator,
                                                int64_t warmup_steps) {
  return std::make_unique<CudaStepGraph>(device, std::move(generator), warmup_steps);
}

}  // namespace detail
}  // namespace dcgan::train
