# ASan + UBSan for every acsweep target when ACSWEEP_SANITIZE is on.
add_library(acsweep_sanitizers INTERFACE)
if(ACSWEEP_SANITIZE)
  set(_san -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_compile_options(acsweep_sanitizers INTERFACE ${_san})
  target_link_options(acsweep_sanitizers INTERFACE ${_san})
endif()
