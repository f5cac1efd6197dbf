# One precompiled <torch/torch.h>, compiled once and reused by every target whose sources use torch
# (libraries, tools, torch test binaries, benchmarks). Parsing torch's headers is most of the time
# of each of the 70-odd torch translation units; with the shared header a first build of the
# quickstart's tools, a full build and a rebuild after one edit all get faster (README, "Build and
# test"), and splitting a large file into more translation units stays cheap.
#
# REUSE_FROM needs the same compiler flags in every user, which the project keeps: warnings come
# from dcgan_warnings() and the rest from TORCH_LIBRARIES. The targets' own -D macros (NCCL, CUDA,
# Open MPI's C-only switch) differ but appear nowhere in torch's headers, which is what GCC asks
# of a precompiled header. The torch-free rooms (spdlog, protobuf, HDF5) never see it.
option(DCGAN_PCH "one precompiled torch header shared by the torch targets" ON)

# Called once, where TORCH_LIBRARIES is known: the target that owns the header.
function(dcgan_add_torch_pch)
  if(NOT DCGAN_PCH)
    return()
  endif()
  add_library(dcgan_torch_pch STATIC ${PROJECT_SOURCE_DIR}/src/pch/torch_pch.cpp)
  target_link_libraries(dcgan_torch_pch PUBLIC ${TORCH_LIBRARIES})
  target_precompile_headers(dcgan_torch_pch PRIVATE <torch/torch.h>)
  dcgan_warnings(dcgan_torch_pch)
endfunction()

# A torch target: compiles with the shared header.
function(dcgan_torch_target target)
  if(DCGAN_PCH AND TARGET dcgan_torch_pch)
    target_precompile_headers(${target} REUSE_FROM dcgan_torch_pch)
  endif()
endfunction()
