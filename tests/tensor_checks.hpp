#pragma once
// Tensor comparisons shared by the tests that check acsweep's models against a reference.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

namespace acsweep::testing {

// got equals want in shape, and element-wise within `tolerance` of want's largest magnitude.
inline void expect_close(const torch::Tensor& got, const torch::Tensor& want, const std::string& what,
                         double tolerance = 1e-4) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double scale = want.abs().max().item<double>();
  EXPECT_LE((got - want).abs().max().item<double>(), tolerance * scale) << what;
}

}  // namespace acsweep::testing
