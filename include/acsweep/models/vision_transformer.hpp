#pragma once
// Native vision towers in LibTorch, loading Hugging Face checkpoints by their own parameter names.
//  - VisionTransformer: CLIP (class token, pre-layernorm, quick_gelu), SigLIP (no class token,
//    patch convolution with bias, tanh GELU) and SigLIP2 (patches through a linear layer, channel
//    last; a square table of positions resized bilinearly, antialiased, to the patch grid), all
//    under vision_model.* with CLIP's layer names.
//  - Dinov2: class token, optional register tokens, layer scale, positions interpolated
//    (plain bicubic, as transformers) to other input sizes.
// hidden_states(pixels, layer) returns the tokens after `layer` (0: the embeddings, negative counts
// from the end, -2 the penultimate) including the prefix tokens (class, registers); patches()
// drops them. Knows nothing of MPI.
#include <torch/torch.h>

#include "acsweep/models/hf_config.hpp"
#include "acsweep/models/safetensors.hpp"

namespace acsweep::models {

class VisionEncoderLayerImpl : public torch::nn::Module {
 public:
  explicit VisionEncoderLayerImpl(const VisionTowerConfig& config);
  // causal: each token attends to itself and those before it (CLIP's text encoder).
  torch::Tensor forward(const torch::Tensor& x, bool causal = false);

 private:
  VisionTowerConfig config_;
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, out_proj_{nullptr}, fc1_{nullptr},
      fc2_{nullptr};
  torch::nn::LayerNorm layer_norm1_{nullptr}, layer_norm2_{nullptr};
};
TORCH_MODULE(VisionEncoderLayer);

class VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit VisionTransformerImpl(const VisionTowerConfig& config);
  torch::Tensor hidden_states(const torch::Tensor& pixels, int layer);
  torch::Tensor patches(const torch::Tensor& pixels, int layer) {
    return hidden_states(pixels, layer).slice(1, prefix_tokens());
  }
  std::int64_t prefix_tokens() const { return config_.family == VisionFamily::clip ? 1 : 0; }
  const VisionTowerConfig& config() const { return config_; }
  // Reads the weights as CLIPModel/SiglipModel checkpoints and transformers < 5 name them
  // (vision_model.*) or as transformers 5 saves a bare *VisionModel (no prefix).
  void load(const SafetensorsFolder& weights);
  torch::nn::Module& body() { return *vision_model_; }  // the module under vision_model.

 private:
  torch::Tensor positions(std::int64_t grid_h, std::int64_t grid_w) const;  // [grid_h * grid_w, D]

  VisionTowerConfig config_;
  std::shared_ptr<torch::nn::Module> vision_model_, embeddings_, encoder_;
  torch::Tensor class_embedding_;
  torch::nn::Conv2d patch_conv_{nullptr};    // CLIP, SigLIP
  torch::nn::Linear patch_linear_{nullptr};  // SigLIP2
  torch::nn::Embedding position_embedding_{nullptr};
  torch::nn::LayerNorm pre_layrnorm_{nullptr};  // sic: Hugging Face's name; CLIP only
  torch::nn::ModuleList layers_;
};
TORCH_MODULE(VisionTransformer);

class Dinov2LayerImpl : public torch::nn::Module {
 public:
  explicit Dinov2LayerImpl(const VisionTowerConfig& config);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  VisionTowerConfig config_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Linear query_{nullptr}, key_{nullptr}, value_{nullptr}, dense_{nullptr}, fc1_{nullptr},
      fc2_{nullptr};
  torch::Tensor lambda1_, lambda2_;
};
TORCH_MODULE(Dinov2Layer);

class Dinov2Impl : public torch::nn::Module {
 public:
  explicit Dinov2Impl(const VisionTowerConfig& config);
  torch::Tensor hidden_states(const torch::Tensor& pixels, int layer);
  torch::Tensor patches(const torch::Tensor& pixels, int layer) {
    return hidden_states(pixels, layer).slice(1, prefix_tokens());
  }
  std::int64_t prefix_tokens() const { return 1 + config_.num_register_tokens; }
  const VisionTowerConfig& config() const { return config_; }
  void load(const SafetensorsFolder& weights);

 private:
  VisionTowerConfig config_;
  std::shared_ptr<torch::nn::Module> embeddings_, encoder_;
  torch::Tensor cls_token_, register_tokens_, position_embeddings_;
  torch::nn::Conv2d projection_{nullptr};
  torch::nn::ModuleList layers_;
};
TORCH_MODULE(Dinov2);

// Multi-head scaled dot-product attention over [B, T, D] projections, no mask (or a causal one).
torch::Tensor vision_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               std::int64_t heads, bool causal = false);

// The index into hidden states 0..layers for `layer` (negative from the end); throws when outside.
std::int64_t hidden_state_index(int layer, std::int64_t layers, const char* family);

}  // namespace acsweep::models
