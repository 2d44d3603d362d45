#pragma once
// A vision encoder as the sweep sees it: its folder's image preprocessing, and preprocessed
// pixels [B, 3, H, W] in, a feature grid [B, C, gh, gw] out. Loaded from a folder:
//  - a Hugging Face folder (config.json, safetensors, preprocessor_config.json) of a native tower
//    (CLIP, SigLIP, SigLIP2, DINOv2), features = the hidden state of a chosen layer (default the
//    penultimate, as LLaVA) without the class and register tokens;
//  - a diffusers pipeline folder (model_index.json) of SD1.5, SD2.1, SDXL, SD image variations or DiT:
//    the DIFT features of models/diffusion_features.hpp, the image resized to the model's own
//    resolution (the U-Net's sample_size in pixels) and scaled to [-1, 1];
//  - or a TorchScript module with an acsweep_encoder.json sidecar, for anything without a native
//    implementation (SD3):
//      {"module": "encoder.pt", "output_layout": "BLC" or "BCHW", "prefix_tokens": 0,
//       "patch_size": 14, "channels": 768}
//    (prefix_tokens and patch_size only for BLC: the grid is H/patch x W/patch), with the
//    preprocessing in the folder's preprocessor_config.json.
#include <torch/torch.h>

#include <memory>
#include <string>

#include "acsweep/data/preprocessor.hpp"

namespace acsweep::models {

struct EncoderOptions {
  int layer = -2;                // native towers: hidden state index (negative from the end)
  int resolution = 0;            // input side in pixels; 0 keeps the checkpoint's
  bool pad_to_square = false;    // LLaVA's image_aspect_ratio = pad
  int diffusion_block = -1;      // diffusers pipelines: the U-Net up block or DiT block (-1: the paper's)
  std::uint64_t noise_seed = 0;  // diffusers pipelines: with each image's pixels, seeds its noise
  bool dit_null_class = false;   // DiT: conditioned on the null class too (false: the timestep alone)
};

// What the memory plan needs of an encoder, from its folder's configs alone (no weights read).
struct EncoderShape {
  std::int64_t channels = 0;
  std::int64_t grid_width = 0, grid_height = 0;  // 0: known only by running it (a traced BCHW module)
  std::int64_t weight_bytes = 0;                 // float32 weights (a traced module: its file size)
  // One image's share of a forward's peak (float32, no gradients); 0 for a traced module (not known).
  std::int64_t activation_bytes = 0;
  // The most images one forward takes: a larger batch runs in passes of this many; 0: all at once.
  std::int64_t images_per_pass = 0;
};

// Diffusion features run this many images per pass: their VAE works at full resolution (about 1.7
// GiB per image at 768 px), and more at once would not make the GPU busier.
inline constexpr std::int64_t kDiffusionImagesPerPass = 4;
EncoderShape encoder_shape(const std::string& folder, const EncoderOptions& options = {});

class VisionEncoder {
 public:
  virtual ~VisionEncoder() = default;
  virtual torch::Tensor features(const torch::Tensor& pixels) = 0;  // [B,3,H,W] -> [B,C,gh,gw]
  virtual std::int64_t channels() const = 0;
  virtual void to(torch::Device device) = 0;

  const data::ImagePreprocessor& preprocessor() const { return preprocessor_; }
  const std::string& folder() const { return folder_; }

 protected:
  std::string folder_;
  data::ImagePreprocessor preprocessor_;
};

// InputError naming the folder and file when something is missing or malformed.
std::unique_ptr<VisionEncoder> load_vision_encoder(const std::string& folder,
                                                   const EncoderOptions& options = {});

// Stacks preprocessed images into [B, 3, H, W] (all must share the size).
torch::Tensor pixel_batch(const std::vector<data::PreprocessedImage>& images);

}  // namespace acsweep::models
