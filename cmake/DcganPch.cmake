# One precompiled <torch/torch.h>, compiled once and reused by every target whose sources use torch
# (libraries, tools, torch test binaries, benchmarks). Parsing torch's headers is most of the time
# of each of the 70-odd torch translation units; with the shared header a first build of the
# quickstart's tools, a full build and a rebuild after one edit all get faster (README, "Build and
# test"), and splitting a large file into more translation units stays cheap.
#
# REUSE_FROM needs the same compiler flags in every user, which the project keeps: warnings come
# from dcgan_warnings() and the rest from dcgan_torch (cmake/DcganDependencies.cmake). The
# targets' own -D macros (NCCL, CUDA, Open MPI's C-only switch) differ but appear nowhere in
# torch's headers, which is what GCC asks of a precompiled header. The torch-free rooms (spdlog, protobuf, HDF5) never see it.
option(DCGAN_PCH "one precompiled torch header shared by the torch targets" ON)

# Called once, where dcgan_torch is known: the target that owns the header.
function(dcgan_add_torch_pch)
  if(NOT DCGAN_PCH)
    return()
  endif()
  add_library(dcgan_torch_pch STATIC ${PROJECT_SOURCE_DIR}/src/pch/torch_pch.cpp)
  target_link_libraries(dcgan_torch_pch PUBLIC dcgan_torch)
  target_precompile_headers(dcgan_torch_pch PRIVATE <torch/torch.h>)
  dcgan_warnings(dcgan_torch_pch)
endfunction()

# A torch target: compiles with the shared header. An executable also exports its symbols, which
# libdcgan_cuda.so binds to when a rank loads it: that library holds the CUDA code only and uses
# the executable's copy of everything else (the logger, the errors, the communicator's base).
function(dcgan_torch_target target)
  if(DCGAN_PCH AND TARGET dcgan_torch_pch)
    target_precompile_headers(${target} REUSE_FROM dcgan_torch_pch)
  endif()
  get_target_property(_type ${target} TYPE)
  if(_type STREQUAL "EXECUTABLE")
    set_target_properties(${target} PROPERTIES ENABLE_EXPORTS ON)
  endif()
endfunction()
