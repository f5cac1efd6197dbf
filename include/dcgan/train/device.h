// Where training runs: device choice, CPU thread count, deterministic/debug switches, and the
// preemption flag set by signal handlers.
#pragma once

#include <atomic>
#include <string>

#include <torch/torch.h>

namespace dcgan::train {

// "auto": CUDA when available, else CPU; "cuda": local_rank modulo the visible GPUs (UsageError
// when there is none); "cpu". Any choice but "cpu" first loads the CUDA library
// (dcgan/common/cuda_library.h) where a CUDA driver is installed, before torch is asked about CUDA:
// call it before anything else that touches CUDA. A CPU rank never loads it.
torch::Device choose_device(const std::string& want, int local_rank);

// Whether a CUDA device can be used here: this build has CUDA, a driver is installed, and torch,
// with the CUDA library loaded, sees a device. Loads the library where a driver is installed.
bool cuda_available();

// Makes a CUDA device this thread's current one (c10::cuda::set_device), so that every call that
// takes "the current device" (default generators, streams, allocations without an index) means
// this rank's GPU, not GPU 0. A no-op for the CPU.
void use_device(torch::Device device);

// Cores this process may run on (sched_getaffinity) divided among the node's ranks, at least 1.
int default_cpu_threads(int local_ranks);

// --deterministic: deterministic algorithms (error on ops that have none) and cuDNN; set before
// the first CUDA call. --detect-anomaly: autograd anomaly mode.
void apply_debug_modes(bool deterministic, bool detect_anomaly);

// A random generator seeded with `seed` on `device`: the CPU's (mt19937) for a CPU device, a
// CUDA (Philox) one for a CUDA device, which a CUDA graph can replay.
at::Generator make_generator(torch::Device device, uint64_t seed);

// The preemption flag: 0, or the number of the last stop signal received.
std::atomic<int>& stop_signal();

// SIGUSR1, SIGTERM and SIGINT only set stop_signal() (async-signal-safe); the trainer finishes
// the step, agrees with its peers, saves and exits 75. Further signals change nothing.
void install_stop_handlers();

}  // namespace dcgan::train
