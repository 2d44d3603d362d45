#pragma once
// Scaled dot-product attention, the one place the models compute it. The fused path goes through
// at::scaled_dot_product_attention: flash or memory-efficient kernels on CUDA, a fused kernel on the
// CPU, never the [T, T] score matrix in memory where the backend can avoid it. The explicit path
// writes the same out (matmul, mask, float32 softmax, matmul) as the reference the fused one is
// tested against.
#include <torch/types.h>

namespace acsweep::models {

// q [B, H, T, d]; k and v [B, H_kv, T, d] with H a multiple of H_kv (grouped-query attention: each
// key/value head serves H / H_kv query heads). causal: position t attends to positions <= t only.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v, bool causal);
torch::Tensor explicit_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                 bool causal);

// The same with an explicit mask: `allowed` [B, 1, T, S] bool (true: query t may attend to key s),
// for a batch whose rows are left-padded or whose keys come from a cache (S >= T). Every query row
// must allow at least one key.
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        const torch::Tensor& allowed);

}  // namespace acsweep::models
