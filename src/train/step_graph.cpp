// The CUDA graph of the training step (see step_graph.h). Compiled whenever torch has CUDA; a
// CPU-only build refuses --cuda-graph here.
#include "dcgan/train/step_graph.h"

#include "dcgan/common/errors.h"
#include "dcgan/common/log.h"
#include "dcgan/common/str.h"

#ifdef DCGAN_WITH_CUDA
#include <ATen/core/CachingHostAllocator.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace dcgan::train {

#ifdef DCGAN_WITH_CUDA

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

}  // namespace

struct StepGraph::Impl {
  Impl(torch::Device device, at::Generator generator, int64_t warmup)
      : device(device),
        generator(std::move(generator)),
        warmup(warmup),
        // Capture needs a stream other than the legacy default one; warm-up runs there too, so
        // that the lazily made state lives on the stream that the graph replays on.
        stream(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index())) {}

  torch::Device device;
  at::Generator generator;
  int64_t warmup;
  c10::cuda::CUDAStream stream;
  std::unique_ptr<AbortableGraph> graph;
  StepResult outputs;  // the graph's own output tensors
  int64_t calls = 0;
  bool capture_failed = false;
};

StepGraph::StepGraph(torch::Device device, at::Generator generator, int64_t warmup_steps) {
  if (!device.is_cuda()) {
    throw UsageError(str("--cuda-graph needs a CUDA device; this rank trains on ", device.str()));
  }
  if (generator.device().type() != torch::kCUDA) {
    throw Error("StepGraph: the step's noise generator must be a CUDA generator");
  }
  impl_ = std::make_unique<Impl>(device, std::move(generator), std::max<int64_t>(warmup_steps, 1));
}

StepGraph::~StepGraph() = default;

bool StepGraph::captured() const { return impl_->graph != nullptr; }

StepResult StepGraph::run(const Step& step) {
  Impl& g = *impl_;
  const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream(g.device.index());
  at::cuda::CUDAEvent inputs_ready;
  inputs_ready.record(caller);
  inputs_ready.block(g.stream);  // the step sees the batch the caller copied in
  StepResult result;
  {
    c10::cuda::CUDAStreamGuard on_side(g.stream);
    ++g.calls;
    if (g.calls <= g.warmup) {
      result = step();
    } else {
      if (!g.graph) {
        // A capture that threw leaves no graph to replay: the run ends with the error, and a
        // later call refuses rather than replay half a capture.
        if (g.capture_failed) throw Error("CUDA graph: the step's capture failed earlier");
        g.capture_failed = true;
        g.stream.synchronize();  // the warm-up's work is done before capture begins
        auto graph = std::make_unique<AbortableGraph>();
        graph->register_generator_state(g.generator);
        graph->capture_begin();
        try {
          g.outputs = step();
          graph->capture_end();  // throws before ending the pool when the capture was invalidated
        } catch (...) {
          graph->abort_capture();  // the first error goes up, not one of the clean-up's
          throw;
        }
        g.graph = std::move(graph);
        g.capture_failed = false;
        log::info(str("CUDA graph: the step is captured after ", g.warmup,
                      " eager steps; every later step replays it"));
      }
      g.graph->replay();
      result = g.outputs;
    }
  }
  at::cuda::CUDAEvent step_done;
  step_done.record(g.stream);
  step_done.block(caller);  // the caller's stream sees the step's results
  return result;
}

#else  // no CUDA in this build

struct StepGraph::Impl {};

StepGraph::StepGraph(torch::Device device, at::Generator, int64_t) {
  throw UsageError(str("--cuda-graph needs a build of torch with CUDA; this one has none (device ",
                       device.str(), ")"));
}

StepGraph::~StepGraph() = default;

bool StepGraph::captured() const { return false; }

StepResult StepGraph::run(const Step& step) { return step(); }

#endif

}  // namespace dcgan::train
