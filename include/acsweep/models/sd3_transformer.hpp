#pragma once
// diffusers' SD3Transformer2DModel (Stable Diffusion 3's MMDiT) up to a chosen transformer block,
// whose image tokens are the SD3 feature map. The latent is cut into patches with learned positions
// cropped from a larger grid; the text tokens (the empty prompt's, projected) and the image tokens
// attend jointly in each block, each stream modulated by its own adaptive layer norm "zero" of the
// timestep plus the pooled text. SD3.5's query-key RMS norms and extra image-only attention are
// built where the config asks. Blocks after `last` are neither built nor loaded; the output head
// never is.
#include <torch/torch.h>

#include <vector>

#include "acsweep/models/diffusion_blocks.hpp"
#include "acsweep/models/diffusion_config.hpp"
#include "acsweep/models/safetensors.hpp"

namespace acsweep::models {

class JointBlockImpl;
TORCH_MODULE(JointBlock);

class SD3TransformerImpl : public torch::nn::Module {
 public:
  SD3TransformerImpl(const SD3Config& config, std::int64_t last_block);
  // latents [B, C, h, w]; timesteps [B] (float: the flow-matching sigma times the train timesteps);
  // context [B, T, joint_attention_dim]; pooled [B, pooled_projection_dim] -> block `last`'s image
  // tokens as a grid [B, D, h/p, w/p]. invalid_argument for a grid wider than the learned positions.
  torch::Tensor block_output(const torch::Tensor& latents, const torch::Tensor& timesteps,
                             const torch::Tensor& context, const torch::Tensor& pooled);
  void load(const SafetensorsFolder& weights);
  const SD3Config& config() const { return config_; }

 private:
  SD3Config config_;
  torch::nn::Conv2d proj_{nullptr};
  torch::Tensor positions_;  // [1, max * max, D], pos_embed.pos_embed
  EmbeddingMlp timestep_embedder_, text_embedder_;
  torch::nn::Linear context_embedder_{nullptr};
  std::vector<JointBlock> blocks_;
};
TORCH_MODULE(SD3Transformer);

}  // namespace acsweep::models
