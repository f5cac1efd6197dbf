# The sanitizer build: ASan and UBSan (any report ends the process), bounds-checked libstdc++
# (_GLIBCXX_ASSERTIONS: an out-of-range vector index aborts), and libFuzzer's coverage
# instrumentation when the fuzz targets are built. Applies to every target of the build.
if(DCGAN_SANITIZE OR DCGAN_FUZZ)
  set(_dcgan_san -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_compile_options(${_dcgan_san} -g)
  add_link_options(${_dcgan_san})
  add_compile_definitions(_GLIBCXX_ASSERTIONS)
endif()
if(DCGAN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "DCGAN_FUZZ needs clang (libFuzzer): configure with CXX=clang++ CC=clang")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
