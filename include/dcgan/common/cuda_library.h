// The CUDA half of the product lives in its own shared library, libdcgan_cuda.so, beside the
// executables: the NCCL communicator and its watchdog, the step's CUDA graph, the CUDA runtime's
// own calls, and through them libtorch_cuda with cuBLAS, cuDNN and NCCL. A process opens it only
// when it runs on a CUDA device, so that a CPU rank does not pay for those libraries' start-up
// (about 120 MB of private memory per rank; docs/running.md, "Many ranks on one machine").
//
// Its files provide their room's tables by name when it loads (provide() and part() below), so the
// rooms stay apart and this room knows none of their types. Torch decides once whether it has CUDA,
// at its first CUDA question, so the library must be open before anything asks torch about CUDA:
// train::choose_device() does both in that order, and checks it.
#pragma once

namespace dcgan::cuda_library {

// Whether this build made the library (torch has CUDA).
bool built();

// Whether a CUDA driver is installed here: libcuda.so.1 opens. Cheap, and opens nothing else; a
// machine without one has no CUDA device, whatever else it has.
bool driver_present();

// Opens the library once per process, first from the executable's own directory, then by name
// (the executable's RUNPATH, LD_LIBRARY_PATH). Throws Error naming the file and the loader's
// reason when it cannot, and UsageError when this build has no CUDA.
void load();

// Whether load() succeeded.
bool loaded();

// What the library's files provide to their rooms, by name: each room defines the table behind
// its name (distributed/backends.h, train/cuda_parts.h). The library's files call provide() as it
// loads; part() returns the table, or null before load() and in a build without CUDA.
void provide(const char* name, const void* table);
const void* part(const char* name);

}  // namespace dcgan::cuda_library
