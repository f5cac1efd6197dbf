// Device, threads, debug modes and the preemption signal flag.
#include "dcgan/train/device.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <sched.h>

#include <csignal>
#include <cstdlib>

#include "dcgan/common/cuda_library.h"
#include "dcgan/common/errors.h"
#include "dcgan/common/str.h"
#include "dcgan/distributed/communicator.h"

namespace dcgan::train {
namespace {

std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free flag");

extern "C" void on_stop_signal(int signal_number) { g_stop_signal.store(signal_number); }

// Loads the CUDA library, and checks that torch took its CUDA half from it.
void load_cuda() {
  cuda_library::load();
  // Torch takes its CUDA half from the first question it is asked about CUDA and keeps that
  // answer: a question before the library loaded left it without one, for good.
  if (!at::detail::getCUDAHooks().isBuilt()) {
    throw Error(
        "the CUDA library loaded, but torch had already settled on having no CUDA: something "
        "asked torch about CUDA before the device was chosen");
  }
}

}  // namespace

bool cuda_available() {
  if (!cuda_library::built() || !cuda_library::driver_present()) return false;
  load_cuda();
  return torch::cuda::is_available();
}

torch::Device choose_device(const std::string& want, int local_rank) {
  if (want == "cpu" || (want == "auto" && !cuda_available())) return torch::kCPU;
  if (!cuda_library::built()) {
    throw UsageError(
        "--device cuda: this build has no CUDA (its torch has none) HINT: use --device cpu or "
        "auto");
  }
  load_cuda();
  return distributed::local_cuda_device(local_rank);
}

void use_device(torch::Device device) {
  if (!device.is_cuda()) return;
  const auto* guard = c10::impl::getDeviceGuardImpl(torch::kCUDA);
  guard->setDevice(device.has_index() ? device : guard->getDevice());
}

int default_cpu_threads(int local_ranks) {
  cpu_set_t set;
  CPU_ZERO(&set);
  int cores = 1;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = CPU_COUNT(&set);
  return std::max(1, cores / std::max(1, local_ranks));
}

void apply_debug_modes(bool deterministic, bool detect_anomaly) {
  if (deterministic) {
    // cuBLAS needs a fixed workspace to be deterministic; must be set before CUDA starts.
    ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
  }
  if (detect_anomaly) torch::autograd::AnomalyMode::set_enabled(true);
}

at::Generator make_generator(torch::Device device, uint64_t seed) {
  if (!device.is_cuda()) return at::detail::createCPUGenerator(seed);
  at::Generator generator = at::detail::getCUDAHooks().getNewGenerator(device.index());
  generator.set_current_seed(seed);
  return generator;
}

std::atomic<int>& stop_signal() { return g_stop_signal; }

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // MPI and file I/O calls continue after the flag is set
  for (int signal_number : {SIGUSR1, SIGTERM, SIGINT}) {
    if (sigaction(signal_number, &action, nullptr) != 0) {
      throw Error(str("cannot install the handler for signal ", signal_number));
    }
  }
}

}  // namespace dcgan::train
