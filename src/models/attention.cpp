#include "acsweep/models/attention.hpp"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace acsweep::models {
namespace {

void check_heads(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || k.sizes() != v.sizes() || q.size(1) % k.size(1) != 0)
    throw std::invalid_argument("attention: q " + std::to_string(q.dim()) + "-D with " +
                                std::to_string(q.size(1)) + " heads does not fit k/v with " +
                                std::to_string(k.size(1)) + " heads");
}

}  // namespace

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, bool causal) {
  check_heads(q, k, v);
  return at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/{}, /*dropout_p=*/0.0, causal,
                                          /*scale=*/std::nullopt, /*enable_gqa=*/q.size(1) != k.size(1));
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& allowed) {
  check_heads(q, k, v);
  if (allowed.scalar_type() != at::kBool || allowed.dim() != 4 || allowed.size(-1) != k.size(2) ||
      allowed.size(-2) != q.size(2))
    throw std::invalid_argument("attention: the mask must be bool [B, 1, " + std::to_string(q.size(2)) +
                                ", " + std::to_string(k.size(2)) + "]");
  return at::scaled_dot_product_attention(q, k, v, allowed, /*dropout_p=*/0.0, /*is_causal=*/false,
                                          /*scale=*/std::nullopt, /*enable_gqa=*/q.size(1) != k.size(1));
}

torch::Tensor explicit_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                 bool causal) {
  check_heads(q, k, v);
  const auto groups = q.size(1) / k.size(1);
  const auto keys = groups > 1 ? k.repeat_interleave(groups, 1) : k;
  const auto values = groups > 1 ? v.repeat_interleave(groups, 1) : v;
  auto scores = at::matmul(q, keys.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));
  if (causal) {
    const auto T = q.size(2);
    const auto future = at::ones({T, T}, at::TensorOptions().dtype(at::kBool).device(q.device())).triu(1);
    scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  }
  return at::matmul(at::softmax(scores, -1, at::kFloat).to(values.scalar_type()), values);
}

}  // namespace acsweep::models
