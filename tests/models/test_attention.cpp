// The fused attention (at::scaled_dot_product_attention) against the explicit one, written out
// as matmul, mask, softmax, matmul: causal and not, multi-head and grouped-query, and the
// gradients a training step takes through it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ostream>
#include <string>

#include "acsweep/models/attention.hpp"

namespace acsweep::models {
namespace {

struct Shape {
  std::int64_t heads, kv_heads;
  bool causal;
};

void PrintTo(const Shape& s, std::ostream* os) {
  *os << s.heads << " heads, " << s.kv_heads << " kv heads" << (s.causal ? ", causal" : "");
}

class AttentionShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(AttentionShapes, FusedEqualsExplicitInValueAndGradient) {
  const auto [heads, kv_heads, causal] = GetParam();
  torch::manual_seed(3);
  const auto q = torch::randn({2, heads, 13, 8}, torch::requires_grad());
  const auto k = torch::randn({2, kv_heads, 13, 8}, torch::requires_grad());
  const auto v = torch::randn({2, kv_heads, 13, 8}, torch::requires_grad());
  const auto weights = torch::randn({2, heads, 13, 8});
  const auto fused = attention(q, k, v, causal);
  const auto reference = explicit_attention(q, k, v, causal);
  EXPECT_LE((fused - reference).abs().max().item<double>(), 1e-5);
  const auto grads = [&](const torch::Tensor& out) {
    return torch::autograd::grad({(out * weights).sum()}, {q, k, v});
  };
  const auto a = grads(fused), b = grads(reference);
  for (std::size_t i = 0; i < a.size(); ++i) EXPECT_LE((a[i] - b[i]).abs().max().item<double>(), 1e-5) << i;
}

INSTANTIATE_TEST_SUITE_P(Kinds, AttentionShapes,
                         ::testing::Values(Shape{4, 4, false}, Shape{4, 4, true}, Shape{4, 2, true},
                                           Shape{6, 1, true}),
                         [](const ::testing::TestParamInfo<Shape>& shape) {
                           const auto& s = shape.param;
                           return "heads" + std::to_string(s.heads) + "_kv" + std::to_string(s.kv_heads) +
                                  (s.causal ? "_causal" : "_full");
                         });

TEST(Attention, CausalLeavesEarlierPositionsBlindToLaterOnes) {
  torch::manual_seed(4);
  const auto q = torch::randn({1, 2, 6, 4}), k = torch::randn({1, 2, 6, 4}), v = torch::randn({1, 2, 6, 4});
  auto changed = v.clone();
  changed.select(2, 5).add_(10.0);  // only the last position's value moves
  const auto before = attention(q, k, v, true), after = attention(q, k, changed, true);
  EXPECT_TRUE(torch::equal(before.slice(2, 0, 5), after.slice(2, 0, 5)));
  EXPECT_FALSE(torch::allclose(before.select(2, 5), after.select(2, 5)));
}

TEST(Attention, HeadsThatDoNotGroupAreRefused) {
  const auto q = torch::zeros({1, 4, 3, 2}), kv = torch::zeros({1, 3, 3, 2});
  EXPECT_THROW(attention(q, kv, kv, true), std::invalid_argument);
}

}  // namespace
}  // namespace acsweep::models
