#pragma once
// The conditioning a Stable Diffusion U-Net attends to, from the pipeline's own CLIP encoders:
//  - ClipTextEncoder: CLIPTextModel (SD1.5; SD2.1's OpenCLIP text tower in the same format) and
//    CLIPTextModelWithProjection (SDXL's second encoder): token and position embeddings, causal
//    pre-layernorm transformer layers, the final layer norm, the pooled (end-of-text) token and its
//    projection.
//  - ClipImageEmbedder: CLIPVisionModelWithProjection's image_embeds (SD image variations).
#include <torch/torch.h>

#include "acsweep/models/diffusion_config.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/vision_transformer.hpp"

namespace acsweep::models {

struct ClipTextOutput {
  torch::Tensor last_hidden_state;  // [B, T, D], after the final layer norm
  torch::Tensor penultimate;        // [B, T, D], the hidden state before the last layer (no norm)
  torch::Tensor text_embeds;        // [B, projection_dim] (with projection only)
};

class ClipTextEncoderImpl : public torch::nn::Module {
 public:
  ClipTextEncoderImpl(const ClipTextConfig& config, bool with_projection);
  ClipTextOutput encode(const torch::Tensor& ids);  // ids [B, T] int64
  void load(const SafetensorsFolder& weights);

 private:
  ClipTextConfig config_;
  std::shared_ptr<torch::nn::Module> text_model_;
  torch::nn::Embedding token_embedding_{nullptr}, position_embedding_{nullptr};
  torch::nn::ModuleList layers_;
  torch::nn::LayerNorm final_layer_norm_{nullptr};
  torch::nn::Linear text_projection_{nullptr};
};
TORCH_MODULE(ClipTextEncoder);

class ClipImageEmbedderImpl : public torch::nn::Module {
 public:
  // The projection's width is CLIPVisionModelWithProjection's projection_dim, which the vision
  // config does not hold: load makes it from the weights' shape.
  explicit ClipImageEmbedderImpl(const VisionTowerConfig& config);
  // pixels [B, 3, S, S] at the tower's image size -> image_embeds [B, projection_dim].
  torch::Tensor embed(const torch::Tensor& pixels);
  void load(const SafetensorsFolder& weights);
  std::int64_t image_size() const { return tower_->config().image_size; }

 private:
  VisionTransformer tower_{nullptr};
  torch::nn::LayerNorm post_layernorm_{nullptr};
  torch::nn::Linear visual_projection_{nullptr};
};
TORCH_MODULE(ClipImageEmbedder);

}  // namespace acsweep::models
