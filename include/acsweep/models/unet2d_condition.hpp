#pragma once
// diffusers' UNet2DConditionModel (SD1.5, SD2.1, SD image variations, SDXL base) up to a chosen
// up-sampling block, whose output is the DIFT feature map: the time embedding (plus SDXL's
// "text_time" embedding of the pooled text and the size ids), the down blocks, the mid block and the
// up blocks 0..last with their skip connections. Blocks after `last` are neither built nor loaded.
#include <torch/torch.h>

#include <vector>

#include "acsweep/models/diffusion_blocks.hpp"
#include "acsweep/models/diffusion_config.hpp"
#include "acsweep/models/safetensors.hpp"

namespace acsweep::models {

struct UNetConditioning {
  torch::Tensor context;      // [B, T, cross_attention_dim]: the text (or image) embedding
  torch::Tensor text_embeds;  // SDXL: [B, projection_dim], the pooled text embedding
  torch::Tensor time_ids;     // SDXL: [B, 6], original size, crop top-left, target size
};

class UNetStageImpl;  // one down, mid or up block
TORCH_MODULE(UNetStage);

class UNet2DConditionImpl : public torch::nn::Module {
 public:
  UNet2DConditionImpl(const UNetConfig& config, std::int64_t last_up_block);
  // latents [B, C, h, w], timesteps [B] (int64) -> up block `last`'s output [B, C', h', w'].
  torch::Tensor up_block_output(const torch::Tensor& latents, const torch::Tensor& timesteps,
                                const UNetConditioning& conditioning);
  void load(const SafetensorsFolder& weights);
  const UNetConfig& config() const { return config_; }
  std::int64_t output_channels() const;  // of the chosen up block

 private:
  UNetConfig config_;
  std::int64_t last_;
  torch::nn::Conv2d conv_in_{nullptr};
  EmbeddingMlp time_embedding_, add_embedding_;
  std::vector<UNetStage> down_, up_;
  UNetStage mid_{nullptr};
};
TORCH_MODULE(UNet2DCondition);

}  // namespace acsweep::models
