#pragma once
// The configs of a diffusers pipeline folder as downloaded (model_index.json, unet/, vae/,
// scheduler/, text_encoder*/ and tokenizer*/, image_encoder/), typed. Only what acsweep's native
// diffusion features use is read; a key whose value would change the computation in a way not
// implemented here is an InputError naming the file and the key, never silently ignored.
#include <cstdint>
#include <string>
#include <vector>

namespace acsweep::models {

// The pipelines whose features are computed natively (the paper's SD1.5, SD2.1, SDXL base and SD
// image variations: a U-Net; DiT: a transformer; SD3: an MMDiT transformer).
enum class DiffusionPipeline { stable_diffusion, stable_diffusion_xl, image_variation, dit, sd3 };

struct DiffusionFolder {
  std::string folder;
  DiffusionPipeline pipeline = DiffusionPipeline::stable_diffusion;
  std::string class_name;  // model_index.json's _class_name
};

// model_index.json: which pipeline, and that the parts it needs are there. InputError naming the
// file for a pipeline that is not supported. SD3's T5 encoder (text_encoder_3/) is not needed: its
// part of the empty prompt's embedding is zeros, as diffusers gives it when the T5 encoder is left out.
DiffusionFolder read_diffusion_folder(const std::string& folder);
bool is_diffusion_folder(const std::string& folder);  // holds a model_index.json

enum class UNetBlock { plain, cross_attention };  // DownBlock2D/UpBlock2D, CrossAttn*Block2D

// UNet2DConditionModel's config.json, every per-block list expanded to one entry per block.
struct UNetConfig {
  std::int64_t in_channels = 4;
  std::int64_t sample_size = 64;  // latent side the model was trained at
  std::vector<UNetBlock> down_blocks, up_blocks;
  std::vector<std::int64_t> block_out_channels;
  std::vector<std::int64_t> layers_per_block;                      // per down block
  std::vector<std::int64_t> transformer_layers_per_block;          // per down block
  std::vector<std::int64_t> reverse_transformer_layers_per_block;  // per up block
  std::vector<std::int64_t> attention_heads;                       // per down block
  std::vector<std::int64_t> cross_attention_dim;                   // per down block
  std::int64_t norm_num_groups = 32;
  double norm_eps = 1e-5;
  bool flip_sin_to_cos = true;
  double freq_shift = 0;
  std::int64_t downsample_padding = 1;
  double mid_block_scale_factor = 1;
  bool use_linear_projection = false;
  bool text_time = false;  // SDXL's addition_embed_type "text_time"
  std::int64_t addition_time_embed_dim = 0;
  std::int64_t projection_class_embeddings_input_dim = 0;

  std::int64_t time_embed_dim() const { return 4 * block_out_channels.front(); }
};
UNetConfig read_unet_config(const std::string& path);

// What DiT's and SD3's transformers share: the latent cut into patch_size patches, `layers` blocks
// of `heads` x `head_dim` channels.
struct PatchTransformerConfig {
  std::int64_t heads = 0, head_dim = 0, in_channels = 0, layers = 0, sample_size = 0, patch_size = 2;

  std::int64_t width() const { return heads * head_dim; }
};

// DiTTransformer2DModel's config.json (class-conditional, adaptive layer norm "zero").
struct DiTConfig : PatchTransformerConfig {
  DiTConfig() : PatchTransformerConfig{16, 72, 4, 28, 32, 2} {}
  std::int64_t num_classes = 1000;
  double norm_eps = 1e-5;
};
DiTConfig read_dit_config(const std::string& path);

// SD3Transformer2DModel's config.json (MMDiT: image and text tokens in one joint attention per block,
// each stream with its own adaptive-layer-norm-zero modulation by the timestep and pooled text).
struct SD3Config : PatchTransformerConfig {
  SD3Config() : PatchTransformerConfig{18, 64, 16, 18, 128, 2} {}
  std::int64_t joint_attention_dim = 4096, pooled_projection_dim = 2048;
  std::int64_t pos_embed_max_size = 192;  // the learned positions form a grid this wide, cropped to the input
  bool qk_rms_norm = false;               // qk_norm "rms_norm" (SD3.5)
  std::vector<bool> dual_attention;       // per layer: a second, image-only attention (SD3.5 medium)
};
SD3Config read_sd3_config(const std::string& path);

// AutoencoderKL's config.json (the encoder half).
struct AutoencoderConfig {
  std::int64_t in_channels = 3, latent_channels = 4;
  std::vector<std::int64_t> block_out_channels;
  std::int64_t layers_per_block = 1;
  std::int64_t norm_num_groups = 32;
  double scaling_factor = 0.18215;
  double shift_factor = 0;
  bool use_quant_conv = true;
  bool mid_block_add_attention = true;

  std::int64_t downsampling() const { return std::int64_t{1} << (block_out_channels.size() - 1); }
};
AutoencoderConfig read_autoencoder_config(const std::string& path);

// The training noise schedule (scheduler_config.json), from which the noise level at a timestep
// follows: betas (DDPM, DDIM, PNDM, Euler ... schedulers), or flow matching
// (FlowMatchEulerDiscreteScheduler, SD3: timesteps 1..N, sigma = t / N shifted by `shift`).
struct NoiseScheduleConfig {
  std::int64_t num_train_timesteps = 1000;
  double beta_start = 0.0001, beta_end = 0.02;
  std::string beta_schedule = "linear";  // linear, scaled_linear, squaredcos_cap_v2
  bool flow_matching = false;
  double shift = 1;  // flow matching only
};
NoiseScheduleConfig read_noise_schedule_config(const std::string& path);

// CLIPTextModel / CLIPTextModelWithProjection's config.json.
struct ClipTextConfig {
  std::int64_t vocab_size = 0, hidden_size = 0, intermediate_size = 0, num_hidden_layers = 0,
               num_attention_heads = 0, max_position_embeddings = 77, projection_dim = 0;
  std::int64_t eos_token_id = 2;
  double layer_norm_eps = 1e-5;
  std::string hidden_act = "quick_gelu";
};
ClipTextConfig read_clip_text_config(const std::string& path);

// The token ids of the empty prompt as the pipeline's CLIPTokenizer gives them, padded to the
// tokenizer's model_max_length: [bos, eos, pad, pad, ...]. Read from the tokenizer folder's
// tokenizer_config.json (or special_tokens_map.json) and vocab.json.
std::vector<std::int64_t> empty_prompt_ids(const std::string& tokenizer_folder);

}  // namespace acsweep::models
