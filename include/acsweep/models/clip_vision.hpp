#pragma once
// CLIP's vision tower in LibTorch, with Hugging Face's parameter names (vision_model.*): patch
// convolution, class token, learned positions, pre-layernorm, pre-LN transformer layers with
// quick_gelu. Features are the hidden state after a chosen layer (LLaVA's recipe: the
// penultimate) with the class token dropped: [B, L, C]. Knows nothing of MPI.
#include <torch/torch.h>

#include "acsweep/models/hf_config.hpp"

namespace acsweep::models {

class ClipEncoderLayerImpl : public torch::nn::Module {
 public:
  explicit ClipEncoderLayerImpl(const ClipVisionConfig& config);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  ClipVisionConfig config_;
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, out_proj_{nullptr}, fc1_{nullptr},
      fc2_{nullptr};
  torch::nn::LayerNorm layer_norm1_{nullptr}, layer_norm2_{nullptr};
};
TORCH_MODULE(ClipEncoderLayer);

class ClipVisionTowerImpl : public torch::nn::Module {
 public:
  explicit ClipVisionTowerImpl(const ClipVisionConfig& config);

  // pixels: [B, 3, S, S] preprocessed. Returns the hidden state after `layer` (negative counts
  // from the end: -1 is the last layer, -2 the penultimate; 0 is the embeddings), class token
  // dropped unless `keep_class_token`.
  torch::Tensor forward(const torch::Tensor& pixels, int layer = -2, bool keep_class_token = false);
  const ClipVisionConfig& config() const { return config_; }

 private:
  ClipVisionConfig config_;
  std::shared_ptr<torch::nn::Module> vision_model_, embeddings_, encoder_;
  torch::Tensor class_embedding_;
  torch::nn::Conv2d patch_embedding_{nullptr};
  torch::nn::Embedding position_embedding_{nullptr};
  torch::nn::LayerNorm pre_layrnorm_{nullptr};  // sic: Hugging Face's name
  torch::nn::ModuleList layers_;
};
TORCH_MODULE(ClipVisionTower);

ClipVisionTower load_clip_vision(const std::string& folder);

// LLaVA's projector: Linear(c, d) -> GELU -> Linear(d, d), named model.mm_projector.{0,2}.
class ProjectorImpl : public torch::nn::Module {
 public:
  ProjectorImpl(std::int64_t vision_channels, std::int64_t llm_hidden);
  torch::Tensor forward(const torch::Tensor& features);

 private:
  torch::nn::Linear first_{nullptr}, second_{nullptr};
};
TORCH_MODULE(Projector);

}  // namespace acsweep::models
