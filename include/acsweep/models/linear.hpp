#pragma once
// A linear layer applied through at::linear, which turns a [B, T, C] input with a bias into one
// fused addmm. The C++ frontend's nn::Linear forward does a matmul and then adds the bias for
// inputs of more than two dimensions: 15% of a ViT's forward time on CPU
// (bench/models_vs_pytorch.py, docs/PERFORMANCE.md).
#include <torch/torch.h>

namespace acsweep::models {

inline torch::Tensor linear(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return torch::linear(x, layer->weight, layer->bias);
}

}  // namespace acsweep::models
