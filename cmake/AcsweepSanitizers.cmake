# ASan + UBSan for every acsweep target when ACSWEEP_SANITIZE is on; with ACSWEEP_FUZZ, also
# libFuzzer's coverage instrumentation (tests/fuzz), which needs clang.
add_library(acsweep_sanitizers INTERFACE)
if(ACSWEEP_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ACSWEEP_FUZZ needs clang (libFuzzer): configure with CC=clang-14 CXX=clang++-14, "
                        "as tests/fuzz/run.sh does")
  endif()
  set(ACSWEEP_SANITIZE ON)
  target_compile_options(acsweep_sanitizers INTERFACE -fsanitize=fuzzer-no-link)
endif()
if(ACSWEEP_SANITIZE)
  set(_san -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_compile_options(acsweep_sanitizers INTERFACE ${_san})
  target_link_options(acsweep_sanitizers INTERFACE ${_san})
  # GCC 12 to 14 report a false -Wmaybe-uninitialized inside libstdc++'s std::regex compiler
  # whenever ASan instruments it (GCC PR 105616); with CI's -Werror that stops the build. The
  # plain build keeps the warning, so real cases are still caught there.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(acsweep_sanitizers INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-maybe-uninitialized>)
  endif()
endif()
