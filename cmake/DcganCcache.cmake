# Compiles through ccache where it is installed (launch/setup.sh installs it), so a second clone,
# a new build directory or a branch switch recompiles only what changed in content. The cache is
# ccache's own (~/.cache/ccache, or CCACHE_DIR), shared by every clone of the user.
#
# Two settings make it work with this project, set on the compile line so that they travel with the
# build directory rather than with a user's environment:
# - the shared precompiled torch header (DcganPch.cmake) is included with -include, which ccache
#   caches only with the sloppiness pch_defines,time_macros (ccache's manual, "Precompiled
#   headers"); include_file_mtime/ctime let a fresh clone, whose files are all new, hit;
# - base_dir is the source tree, so the absolute paths of one clone become relative ones and
#   another clone at another path hits the same entries;
# - depend mode: on a miss ccache takes the headers from the compiler's own -MD file instead of
#   running the preprocessor first, which for a torch translation unit would expand all of torch's
#   headers again (the precompiled header spares the compiler that, not the preprocessor).
#
# What hits and what does not, with the shared header (measured 2026-12-07): every torch unit hashes
# the .gch's bytes, and those embed the clone's path. A clone's first build makes its header with
# no .gch beside it, so the next fresh clone, at any path, hits that entry, gets the same bytes, and
# then hits every unit. A long-lived build directory does not feed fresh clones: when it remakes the
# header, ccache sees the old .gch as an input ("Detected use of precompiled header"), so neither
# side's entries match the other's.
option(DCGAN_CCACHE "compile through ccache where it is installed" ON)
if(DCGAN_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  find_program(DCGAN_CCACHE_PROGRAM ccache)
  if(DCGAN_CCACHE_PROGRAM)
    set(_dcgan_ccache ${CMAKE_COMMAND} -E env
        CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
        CCACHE_BASEDIR=${PROJECT_SOURCE_DIR} CCACHE_DEPEND=1 ${DCGAN_CCACHE_PROGRAM})
    set(CMAKE_C_COMPILER_LAUNCHER ${_dcgan_ccache})
    set(CMAKE_CXX_COMPILER_LAUNCHER ${_dcgan_ccache})
  endif()
endif()
