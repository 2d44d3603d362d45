#pragma once
// The folder of one golden case that tests/golden/make_golden.py writes. Run by hand without
// ACSWEEP_GOLDEN the tests skip; under CTest it is always set, and a missing case fails.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#define REQUIRE_GOLDEN(folder, name)                                                  \
  const char* golden_root = std::getenv("ACSWEEP_GOLDEN");                            \
  if (golden_root == nullptr) GTEST_SKIP() << "ACSWEEP_GOLDEN unset (CTest sets it)"; \
  const std::filesystem::path folder = std::filesystem::path(golden_root) / (name);   \
  ASSERT_TRUE(std::filesystem::exists(folder / "golden.safetensors"))                 \
      << folder << ": no golden.safetensors (tests/golden/make_golden.py failed?)"
