#pragma once
// Diffusion features the DIFT way, as the paper's released featurizer computes them: the image's VAE
// latent (the distribution's mean) noised to timestep t by the training schedule, one U-Net pass
// conditioned on the empty prompt (SD1.5, SD2.1, SDXL with its pooled text and size ids) or on the
// image's own CLIP embedding (SD image variations), and the output of one up-sampling block taken as
// the feature map; for DiT, one transformer pass conditioned on the timestep alone, a block's tokens
// as a grid, each 2 x 2 cells stacked into one (the paper's 4 x 1152 channels at half the side); for
// SD3, the same from its MMDiT, the latent noised by flow matching at the first training timestep and
// the empty prompt from CLIP-L and CLIP-G, with zeros for the T5 part (as diffusers without T5).
// Loads a diffusers pipeline folder as downloaded; the text conditioning is computed once at load.
#include <torch/torch.h>

#include <memory>
#include <string>

#include "acsweep/models/diffusion_config.hpp"

namespace acsweep::models {

struct DiffusionOptions {
  // The feature map: this U-Net up block's output, or this DiT block's; -1: the paper's (the first
  // up block; DiT's last block).
  std::int64_t block = -1;
  // The paper's t: alphas_cumprod[t] of a beta schedule (0..N-1); on a flow-matching schedule
  // (1..N), sigma = t / N shifted as the scheduler shifts it, and the transformer is given sigma * N.
  std::int64_t timestep = 1;
  // DiT: each block's conditioning is the timestep's embedding plus the null class's (the
  // unconditional label a DiT checkpoint trained with label dropout holds) rather than the
  // timestep's alone (the paper's featurizer).
  bool null_class = false;
};

// What a pipeline folder gives, from its configs alone (no weights read): InputError naming the
// folder for a block it lacks.
struct DiffusionGeometry {
  std::int64_t block = 0;           // the block `options.block` resolves to
  std::int64_t native = 0;          // the model's own input side (sample_size in pixels)
  std::int64_t multiple = 0;        // input sides must be multiples of this
  std::int64_t channels = 0;        // of the feature map
  std::int64_t feature_factor = 0;  // pixels per feature-map cell along a side
  std::int64_t latent_factor = 0;   // pixels per latent cell (the VAE's down-sampling)
  std::int64_t max_side = 0;        // the widest input side the model has positions for; 0: any
  DiffusionPipeline pipeline = DiffusionPipeline::stable_diffusion;
  std::int64_t vae_channels = 0;  // the VAE's first width, at full resolution
};
DiffusionGeometry diffusion_geometry(const std::string& folder, std::int64_t block);

// The bytes one image's features hold at their peak at input side `side` (float32, no gradients),
// from the configs alone: the larger of the VAE's full-resolution stage (six tensors of its first
// width: a resnet's input, a convolution's input and output, and the copies in its own layout that a
// CPU convolution makes; on a GPU fewer) and the denoiser's (a U-Net's skip connections plus its widest
// level's attention feed-forward or resnet; a transformer block's tokens through its feed-forward, text
// tokens included). Fused attention (no score matrix) is assumed. Checked against the measured growth of the
// resident set in bench/diffusion_features_vs_diffusers.py (docs/PERFORMANCE.md).
std::int64_t diffusion_activation_bytes(const std::string& folder, const DiffusionGeometry& g,
                                        std::int64_t side);

// The noise schedule's alphas_cumprod (float32), as diffusers' schedulers compute it.
torch::Tensor alphas_cumprod(const NoiseScheduleConfig& schedule);

class DiffusionFeatures {
 public:
  DiffusionFeatures(const std::string& folder, const DiffusionOptions& options);
  ~DiffusionFeatures();

  // pixels [B, 3, H, W] in [-1, 1]; noise [B, latent_channels, H/f, W/f] -> [B, C, h, w].
  torch::Tensor features(const torch::Tensor& pixels, const torch::Tensor& noise);
  // The pieces, for the golden tests.
  torch::Tensor latents(const torch::Tensor& pixels);
  torch::Tensor noised(const torch::Tensor& latents, const torch::Tensor& noise) const;
  torch::Tensor context(const torch::Tensor& pixels);  // [B, T, D]: what the denoiser attends to
  torch::Tensor pooled_text() const;                   // SDXL, SD3: [1, pooled width]

  std::int64_t channels() const;
  std::int64_t latent_channels() const;
  std::int64_t latent_factor() const;         // pixels per latent along a side
  const DiffusionGeometry& geometry() const;  // as diffusion_geometry gave it at load
  void to(torch::Device device);

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

// The noise for one image: N(0, 1) from a generator seeded with the job's seed and the image's
// pixels, so that the same image gets the same noise on every rank, device and run.
torch::Tensor image_noise(const torch::Tensor& image, std::uint64_t seed, std::int64_t channels,
                          std::int64_t height, std::int64_t width);

}  // namespace acsweep::models
