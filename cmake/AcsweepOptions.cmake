# Build switches. Each is also a -D option on the cmake command line.
option(ACSWEEP_WITH_CUDA "Compile the CUDA/NCCL code paths when CUDA and NCCL are found" ON)
option(ACSWEEP_WERROR "Treat compiler warnings as errors (CI turns this on)" OFF)
option(ACSWEEP_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(ACSWEEP_FUZZ "Build the libFuzzer targets of the file parsers (clang; ASan and UBSan on too)" OFF)
option(ACSWEEP_BUILD_TESTS "Build the GoogleTest suite and register it with CTest" ON)
option(ACSWEEP_BUILD_BENCH "Build the benchmarks in bench/" ON)
set(ACSWEEP_CUDA_ROOT "/usr/local/cuda" CACHE PATH "Where to look for the CUDA toolkit and NCCL")
