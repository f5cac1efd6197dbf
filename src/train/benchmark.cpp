// Phase times, peak memory and the table of dcgan-train --benchmark (see benchmark.h).
#include "dcgan/train/benchmark.h"

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <sstream>

#include <ATen/DeviceAccelerator.h>
#include <c10/util/Exception.h>
#include <torch/cuda.h>

#include "cuda_parts.h"
#include "dcgan/common/str.h"
#include "dcgan/distributed/communicator.h"

namespace dcgan::train {

// Counts c10's "called a synchronizing CUDA operation" warnings; passes any other on.
class SyncWarningCounter final : public c10::WarningHandler {
 public:
  explicit SyncWarningCounter(c10::WarningHandler* next) : next_(next) {}
  void process(const c10::Warning& warning) override {
    if (warning.msg().find("synchronizing CUDA operation") != std::string::npos) {
      ++count;
      return;
    }
    next_->process(warning);
  }
  int64_t count = 0;

 private:
  c10::WarningHandler* next_;
};

struct SyncCounter::Impl {
  static constexpr int kWarn = 1;  // c10::cuda::SyncDebugMode::L_WARN
  Impl()
      : exchange(detail::cuda_parts().exchange_sync_debug_mode),
        counter(c10::WarningUtils::get_warning_handler()),
        guard(&counter),
        previous(exchange(kWarn)) {}
  ~Impl() { exchange(previous); }
  int (*exchange)(int mode);
  SyncWarningCounter counter;
  c10::WarningUtils::WarningHandlerGuard guard;
  int previous;
};

SyncCounter::SyncCounter(torch::Device device) : device_(device) {}
SyncCounter::~SyncCounter() = default;

void SyncCounter::start() {
  host_waits_ = -distributed::host_wait_count();
  if (device_.is_cuda()) impl_ = std::make_unique<Impl>();
}

void SyncCounter::stop() {
  host_waits_ += distributed::host_wait_count();
  if (impl_) c10_syncs_ = impl_->counter.count;
  impl_.reset();
}

void PhaseTimer::enable(bool on) {
  enabled_ = on;
  seconds_.clear();
  if (!on) return;
  wait_for_device();
  last_ = std::chrono::steady_clock::now();
}

void PhaseTimer::lap(const char* phase) {
  if (!enabled_) return;
  wait_for_device();
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  for (auto& [name, total] : seconds_) {
    if (name == phase) {
      total += elapsed;
      return;
    }
  }
  seconds_.emplace_back(phase, elapsed);
}

void PhaseTimer::wait_for_device() const {
  if (device_.is_cuda()) torch::cuda::synchronize(device_.index());
}

int64_t peak_memory_bytes(torch::Device device) {
  if (device.is_cuda()) {
    using c10::CachingAllocator::StatType;
    const auto stats = at::accelerator::getDeviceStats(device.index());
    return stats.allocated_bytes[static_cast<size_t>(StatType::AGGREGATE)].peak;
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

std::string device_name(torch::Device device) {
  if (device.is_cuda()) return detail::cuda_parts().device_name(device.index());
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return device.str();
}

double device_peak_tflops(torch::Device device, Precision precision) {
  if (const char* given = std::getenv("DCGAN_PEAK_TFLOPS"); given != nullptr && *given != 0)
    return std::strtod(given, nullptr);
  if (!device.is_cuda()) return 0;
  const std::string name = device_name(device);
  if (name.find("H100") == std::string::npos && name.find("H200") == std::string::npos) return 0;
  switch (precision) {  // dense, SXM: the data sheets' figures without sparsity
    case Precision::kBf16:
      return 989;
    case Precision::kTf32:
      return 495;
    case Precision::kFp32:
      return 67;
  }
  return 0;
}

std::string benchmark_table(const TrainConfig& config, const RunShape& shape, int64_t warmup,
                            int64_t steps, const BenchmarkFigures& f) {
  const double tflops = f.flops_per_image * f.images_per_s / 1e12;  // achieved, all ranks
  const double share =
      f.peak_tflops > 0 ? tflops / (f.peak_tflops * static_cast<double>(shape.world_size)) : 0;
  std::ostringstream out;
  out << std::fixed;
  out << "benchmark: " << config.model << ", " << shape.image_size << "x" << shape.image_size
      << ", batch " << config.batch_size << " x " << shape.world_size << " rank(s) on "
      << shape.device << " (" << device_name(torch::Device(shape.device)) << "), precision "
      << config.precision << (config.channels_last ? ", channels-last" : "") << ", Adam "
      << config.optimizer << (config.data_on_device ? ", data on device" : "")
      << (config.cuda_graph ? ", CUDA graph" : "") << "; " << steps << " steps after " << warmup
      << " warm-up";
  out << "\n  " << std::left << std::setw(26) << "images/s" << std::setprecision(1)
      << f.images_per_s;
  out << "\n  " << std::setw(26) << "step (ms)" << std::setprecision(3) << f.step_ms;
  if (f.flops_per_image > 0) {
    out << "\n  " << std::setw(26) << "FLOP per image (floor)" << std::setprecision(3)
        << f.flops_per_image / 1e9 << " G";
    out << "\n  " << std::setw(26) << "achieved" << std::setprecision(3) << tflops << " TFLOP/s";
    out << "\n  " << std::setw(26) << "share of peak";
    if (share > 0) {
      out << std::setprecision(1) << 100 * share << "% of " << std::setprecision(0) << f.peak_tflops
          << " TFLOP/s per device";
    } else {
      out << "n/a (peak unknown; set DCGAN_PEAK_TFLOPS)";
    }
  }
  out << "\n  " << std::setw(26) << "host waits per step" << std::setprecision(2)
      << f.host_waits_per_step << " (the project's own waits on collectives)";
  out << "\n  " << std::setw(26) << "c10 syncs per step";
  if (f.c10_syncs_per_step >= 0) {
    out << std::setprecision(2) << f.c10_syncs_per_step << " (c10's sync debug mode)";
  } else {
    out << "n/a (CPU)";
  }
  out << "\n  " << std::setw(26) << "peak memory (this rank)" << std::setprecision(1)
      << static_cast<double>(f.peak_bytes) / (1 << 20) << " MiB"
      << (torch::Device(shape.device).is_cuda() ? " allocated on the GPU" : " resident (process)");
  if (f.phase_ms.empty()) {
    out << "\n  phases: none apart (the CUDA graph replays the step as one launch)";
  } else {
    double sum = 0;
    for (const auto& [name, ms] : f.phase_ms) sum += ms;
    out << "\n  phases (each waited for; ms per step, share of their sum " << std::setprecision(3)
        << sum << " ms):";
    for (const auto& [name, ms] : f.phase_ms) {
      out << "\n    " << std::setw(24) << name << std::right << std::setw(9) << std::setprecision(3)
          << ms << std::setw(7) << std::setprecision(1) << 100 * ms / std::max(sum, 1e-12) << "%"
          << std::left;
    }
  }
  // The machine-readable line (bench/ and launch/gpu_check.sh parse it).
  out << "\nbenchmark: img_s=" << std::setprecision(1) << f.images_per_s
      << " step_ms=" << std::setprecision(3) << f.step_ms << " tflops=" << tflops
      << " share=" << std::setprecision(4) << share << " peak_mib=" << std::setprecision(1)
      << static_cast<double>(f.peak_bytes) / (1 << 20)
      << " host_waits_per_step=" << std::setprecision(2) << f.host_waits_per_step
      << " c10_syncs_per_step=";
  if (f.c10_syncs_per_step >= 0) {
    out << f.c10_syncs_per_step;
  } else {
    out << "n/a";
  }
  for (const auto& [name, ms] : f.phase_ms)
    out << " ms_" << name << "=" << std::setprecision(3) << ms;
  return out.str();
}

}  // namespace dcgan::train
