# Finds every dependency; nothing is vendored. Each sets DCGAN_SUMMARY_<NAME> for the summary.

# --- libtorch (the PyPI wheel's, found through CMAKE_PREFIX_PATH / Torch_DIR) ---------------
set(DCGAN_TORCH_VERSION "off")
if(DCGAN_WITH_TORCH)
  find_package(Torch 2.4 REQUIRED)
  set(DCGAN_TORCH_VERSION "${Torch_VERSION}")
endif()
# The torch wheel ships its own copies of third-party headers (fmt among them). spdlog must see the
# system fmt it was built against, so only src/common/log.cpp includes spdlog, and it does not
# include torch (see include/dcgan/common/log.h).
set(DCGAN_TORCH_HAS_CUDA OFF)
if(DCGAN_WITH_TORCH AND (TARGET torch_cuda OR TORCH_LIBRARIES MATCHES "torch_cuda"))
  set(DCGAN_TORCH_HAS_CUDA ON)
endif()
# dcgan_torch: what every torch target of the project links. It compiles exactly as torch's own
# targets ask (torch_cuda's definitions and the CUDA headers included, so that one precompiled
# header serves every torch translation unit, the CUDA library's too) but links libtorch_cpu and
# libc10 only. libtorch_cuda, and cuBLAS, cuDNN and NCCL behind it, come with libdcgan_cuda.so,
# which a rank loads only for a CUDA device (include/dcgan/common/cuda_library.h).
if(DCGAN_WITH_TORCH)
  add_library(dcgan_torch INTERFACE)
  target_link_libraries(dcgan_torch INTERFACE torch_cpu_library c10)
  # Position-independent everywhere, so that the shared library's files use the one precompiled
  # header too: GCC refuses a header compiled as -fpie (the default here) in a -fPIC unit.
  target_compile_options(dcgan_torch INTERFACE -fPIC)
  target_include_directories(dcgan_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
  if(TORCH_CXX_FLAGS)
    separate_arguments(_torch_cxx_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
    target_compile_options(dcgan_torch INTERFACE ${_torch_cxx_flags})
  endif()
  if(DCGAN_TORCH_HAS_CUDA)
    target_compile_definitions(dcgan_torch
                               INTERFACE $<TARGET_PROPERTY:torch_cuda,INTERFACE_COMPILE_DEFINITIONS>)
    target_include_directories(
      dcgan_torch SYSTEM INTERFACE $<TARGET_PROPERTY:torch::cudart,INTERFACE_INCLUDE_DIRECTORIES>)
  endif()
endif()

# --- MPI ----------------------------------------------------------------------------------
find_package(MPI 3.0 REQUIRED COMPONENTS C)

# --- HDF5 (C API) --------------------------------------------------------------------------
find_package(HDF5 1.10 REQUIRED COMPONENTS C)
add_library(dcgan_hdf5 INTERFACE)
target_include_directories(dcgan_hdf5 SYSTEM INTERFACE ${HDF5_INCLUDE_DIRS})
target_link_libraries(dcgan_hdf5 INTERFACE ${HDF5_C_LIBRARIES})
target_compile_definitions(dcgan_hdf5 INTERFACE ${HDF5_DEFINITIONS})

# --- spdlog (system fmt), CLI11, GoogleTest ------------------------------------------------
find_package(spdlog 1.9 REQUIRED)
find_package(CLI11 2.1 REQUIRED)
find_package(tomlplusplus 3 REQUIRED)  # every TOML file: config.toml, checkpoint.toml, --config
if(DCGAN_BUILD_TESTS)
  find_package(GTest 1.10 REQUIRED)
endif()

# --- image codecs: libjpeg-turbo (TurboJPEG API, DCT-domain scaling) and libpng ---------------
find_package(PkgConfig REQUIRED)
pkg_check_modules(TURBOJPEG REQUIRED IMPORTED_TARGET libturbojpeg)
find_package(PNG 1.6 REQUIRED)
# TensorBoard's event files: Protocol Buffers (the lite runtime) and protoc.
find_package(Protobuf 3.12 REQUIRED)
find_package(ZLIB REQUIRED)
find_package(OpenSSL REQUIRED COMPONENTS Crypto)  # SHA-256 of shards and checkpoint files
find_package(Threads REQUIRED)

# --- CUDA + NCCL (optional) ---------------------------------------------------------------
# NCCL must match torch's CUDA major version: prefer the wheel's nvidia-nccl (set NCCL_ROOT to it),
# else the CUDA toolkit's copy.
set(DCGAN_WITH_NCCL OFF)
set(DCGAN_NCCL_VERSION "")
if(NOT DCGAN_NCCL STREQUAL "OFF" AND DCGAN_TORCH_HAS_CUDA)
  find_path(NCCL_INCLUDE_DIR nccl.h
            HINTS ${NCCL_ROOT} ENV NCCL_ROOT ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda
            PATH_SUFFIXES include)
  find_library(NCCL_LIBRARY NAMES libnccl.so.2 nccl NAMES_PER_DIR
               HINTS ${NCCL_ROOT} ENV NCCL_ROOT ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda
               PATH_SUFFIXES lib lib64)
  if(NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    file(STRINGS "${NCCL_INCLUDE_DIR}/nccl.h" _nccl_defs REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) ")
    string(REGEX REPLACE ".*NCCL_MAJOR ([0-9]+).*" "\\1" _maj "${_nccl_defs}")
    string(REGEX REPLACE ".*NCCL_MINOR ([0-9]+).*" "\\1" _min "${_nccl_defs}")
    string(REGEX REPLACE ".*NCCL_PATCH ([0-9]+).*" "\\1" _pat "${_nccl_defs}")
    set(DCGAN_NCCL_VERSION "${_maj}.${_min}.${_pat}")
    # nccl.h for every user (the wire types name NCCL's); libnccl for the CUDA library only.
    add_library(dcgan_nccl_headers INTERFACE)
    target_include_directories(dcgan_nccl_headers SYSTEM INTERFACE ${NCCL_INCLUDE_DIR})
    add_library(dcgan_nccl INTERFACE)
    target_link_libraries(dcgan_nccl INTERFACE dcgan_nccl_headers ${NCCL_LIBRARY})
    set(DCGAN_WITH_NCCL ON)
  endif()
endif()
if(DCGAN_NCCL STREQUAL "ON" AND NOT DCGAN_WITH_NCCL)
  message(FATAL_ERROR "DCGAN_NCCL=ON but torch has no CUDA (${DCGAN_TORCH_HAS_CUDA}) or nccl.h/libnccl "
                      "was not found. HINT: pass -DNCCL_ROOT=<dir with include/nccl.h and lib/>.")
endif()
