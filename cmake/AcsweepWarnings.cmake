# One interface target that every acsweep target links, so warning flags live in one place.
add_library(acsweep_warnings INTERFACE)
target_compile_options(acsweep_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${ACSWEEP_WERROR}>>:-Werror>)
