# Warnings for project code only; third-party headers come in as SYSTEM includes.
function(dcgan_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()
