#pragma once
// diffusers' DiTTransformer2DModel (DiT-XL/2) up to a chosen transformer block, whose output tokens
// are the DiT feature map: the latent cut into patches with fixed 2-D sine-cosine positions, then
// blocks of adaptive-layer-norm-zero self-attention and a tanh-GELU MLP, each modulated by its own
// embedding of the timestep. As the paper's featurizer, the class label is left out of that
// embedding (the timestep alone conditions the blocks), unless `null_class` adds the null class's
// label embedding (row num_classes of each block's table, the label dropout's). Blocks after `last`
// are neither built nor loaded; the output head never is.
#include <torch/torch.h>

#include <vector>

#include "acsweep/models/diffusion_config.hpp"
#include "acsweep/models/safetensors.hpp"

namespace acsweep::models {

class DiTBlockImpl;
TORCH_MODULE(DiTBlock);

class DiTTransformerImpl : public torch::nn::Module {
 public:
  DiTTransformerImpl(const DiTConfig& config, std::int64_t last_block, bool null_class = false);
  // latents [B, C, h, w], timesteps [B] (int64) -> block `last`'s tokens as a grid [B, D, h/p, w/p].
  torch::Tensor block_output(const torch::Tensor& latents, const torch::Tensor& timesteps);
  void load(const SafetensorsFolder& weights);
  const DiTConfig& config() const { return config_; }

 private:
  DiTConfig config_;
  torch::nn::Conv2d proj_{nullptr};
  std::vector<DiTBlock> blocks_;
};
TORCH_MODULE(DiTTransformer);

// diffusers' get_2d_sincos_pos_embed for a gh x gw grid of patches: [gh * gw, dim], positions scaled
// by base_size / grid as diffusers does when the grid differs from the trained one.
torch::Tensor sincos_positions(std::int64_t dim, std::int64_t gh, std::int64_t gw, std::int64_t base_size);

}  // namespace acsweep::models
