#pragma once
// The encoder half of diffusers' AutoencoderKL (a Stable Diffusion pipeline's vae/ folder): pixels in
// [-1, 1] -> the latent distribution's mean, shifted and scaled by the config's shift_factor and
// scaling_factor, as the U-Net sees latents. The decoder is never built or loaded.
#include <torch/torch.h>

#include "acsweep/models/diffusion_blocks.hpp"
#include "acsweep/models/diffusion_config.hpp"
#include "acsweep/models/safetensors.hpp"

namespace acsweep::models {

class AutoencoderKLEncoderImpl : public torch::nn::Module {
 public:
  explicit AutoencoderKLEncoderImpl(const AutoencoderConfig& config);
  torch::Tensor latents(const torch::Tensor& pixels);  // [B,3,H,W] -> [B, latent, H/f, W/f]
  void load(const SafetensorsFolder& weights);
  const AutoencoderConfig& config() const { return config_; }

 private:
  AutoencoderConfig config_;
  torch::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr}, quant_conv_{nullptr};
  torch::nn::ModuleList down_blocks_;
  ResnetBlock2D mid_resnet0_{nullptr}, mid_resnet1_{nullptr};
  SpatialSelfAttention mid_attention_{nullptr};
  torch::nn::GroupNorm conv_norm_out_{nullptr};
  std::vector<std::vector<ResnetBlock2D>> resnets_;
  std::vector<Downsample2D> downsamplers_;
};
TORCH_MODULE(AutoencoderKLEncoder);

}  // namespace acsweep::models
