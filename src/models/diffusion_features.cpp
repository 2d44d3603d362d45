#include "acsweep/models/diffusion_features.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "acsweep/error.hpp"
#include "acsweep/models/autoencoder_kl.hpp"
#include "acsweep/models/clip_conditioning.hpp"
#include "acsweep/models/dit_transformer.hpp"
#include "acsweep/models/hf_config.hpp"
#include "acsweep/models/sd3_transformer.hpp"
#include "acsweep/models/unet2d_condition.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;

std::string part(const std::string& folder, const char* name) { return (fs::path(folder) / name).string(); }

// The empty prompt through one of the pipeline's text encoders.
ClipTextOutput encode_empty_prompt(const std::string& folder, const char* encoder, const char* tokenizer,
                                   bool with_projection) {
  const auto config = read_clip_text_config(part(part(folder, encoder), "config.json"));
  const auto ids = empty_prompt_ids(part(folder, tokenizer));
  if (static_cast<std::int64_t>(ids.size()) > config.max_position_embeddings)
    throw InputError(part(folder, tokenizer) + ": model_max_length " + std::to_string(ids.size()) +
                     " is more than the text encoder's " + std::to_string(config.max_position_embeddings) +
                     " positions");
  ClipTextEncoder model(config, with_projection);
  model->load(SafetensorsFolder(part(folder, encoder)));
  model->eval();
  torch::NoGradGuard no_grad;
  return model->encode(torch::tensor(ids, torch::kInt64).unsqueeze(0));
}

// The T5 part of SD3's prompt embedding when the T5 encoder is left out: this many zero tokens
// (StableDiffusion3Pipeline's default max_sequence_length).
constexpr std::int64_t kSd3T5Tokens = 256;

// DiT's and SD3's feature map as the paper's featurizers shape it: each 2 x 2 block of cells stacked along
// the channels, (column offset, row offset) major: [B, D, h, w] -> [B, 4D, h/2, w/2].
torch::Tensor stack_2x2(const torch::Tensor& grid) {
  const auto B = grid.size(0), D = grid.size(1), h = grid.size(2), w = grid.size(3);
  return grid.reshape({B, D, h / 2, 2, w / 2, 2})
      .permute({0, 5, 3, 1, 2, 4})
      .reshape({B, 4 * D, h / 2, w / 2});
}

}  // namespace

DiffusionGeometry diffusion_geometry(const std::string& folder, std::int64_t block) {
  const auto pipeline = read_diffusion_folder(folder);
  const auto vae = read_autoencoder_config(part(part(folder, "vae"), "config.json"));
  DiffusionGeometry g;
  g.pipeline = pipeline.pipeline;
  g.latent_factor = vae.downsampling();
  g.vae_channels = vae.block_out_channels.front();
  std::int64_t blocks = 0;
  const auto transformer_grid = [&](const PatchTransformerConfig& t) {
    blocks = t.layers;
    g.block = block < 0 ? t.layers - 1 : block;
    g.native = t.sample_size * g.latent_factor;
    g.feature_factor = g.latent_factor * t.patch_size * 2;
    g.multiple = g.feature_factor;
    g.channels = 4 * t.width();
    if (t.in_channels != vae.latent_channels)
      throw InputError(folder + ": the VAE's " + std::to_string(vae.latent_channels) +
                       " latent channels are not the transformer's " + std::to_string(t.in_channels) +
                       " inputs");
  };
  if (pipeline.pipeline == DiffusionPipeline::sd3) {
    const auto sd3 = read_sd3_config(part(part(folder, "transformer"), "config.json"));
    transformer_grid(sd3);
    g.max_side = sd3.pos_embed_max_size * sd3.patch_size * g.latent_factor;
  } else if (pipeline.pipeline == DiffusionPipeline::dit) {
    const auto dit = read_dit_config(part(part(folder, "transformer"), "config.json"));
    transformer_grid(dit);
  } else {
    const auto unet = read_unet_config(part(part(folder, "unet"), "config.json"));
    blocks = static_cast<std::int64_t>(unet.block_out_channels.size());
    g.block = block < 0 ? 0 : block;
    g.native = unet.sample_size * g.latent_factor;
    g.multiple = g.latent_factor * (std::int64_t{1} << (blocks - 1));
    g.channels =
        unet.block_out_channels[static_cast<std::size_t>(blocks - 1 - std::min(g.block, blocks - 1))];
    // The latent is halved by each of blocks-1 down blocks, and doubled again by each up block
    // before the last.
    g.feature_factor = g.latent_factor * (std::int64_t{1} << (blocks - 2 - std::min(g.block, blocks - 2)));
    if (unet.in_channels != vae.latent_channels)
      throw InputError(folder + ": the VAE's " + std::to_string(vae.latent_channels) +
                       " latent channels are not the U-Net's " + std::to_string(unet.in_channels) +
                       " inputs");
  }
  if (g.block >= blocks)
    throw InputError(folder + ": diffusion_block " + std::to_string(g.block) +
                     " is not one of its blocks 0.." + std::to_string(blocks - 1));
  return g;
}

std::int64_t diffusion_activation_bytes(const std::string& folder, const DiffusionGeometry& g,
                                        std::int64_t side) {
  const std::int64_t vae_floats = 6 * g.vae_channels * side * side;
  const auto latent = side / g.latent_factor;
  std::int64_t denoiser_floats = 0;
  const auto transformer_floats = [&](const PatchTransformerConfig& t, std::int64_t text_tokens) {
    // The block's input, its norm and modulation, and the feed-forward's 4x hidden before and after GELU.
    const auto tokens = (latent / t.patch_size) * (latent / t.patch_size) + text_tokens;
    return 12 * t.width() * tokens;
  };
  if (g.pipeline == DiffusionPipeline::sd3) {
    const auto clip = read_clip_text_config(part(part(folder, "text_encoder"), "config.json"));
    denoiser_floats = transformer_floats(read_sd3_config(part(part(folder, "transformer"), "config.json")),
                                         clip.max_position_embeddings + kSd3T5Tokens);
  } else if (g.pipeline == DiffusionPipeline::dit) {
    denoiser_floats =
        transformer_floats(read_dit_config(part(part(folder, "transformer"), "config.json")), 0);
  } else {
    const auto unet = read_unet_config(part(part(folder, "unet"), "config.json"));
    const auto levels = unet.block_out_channels.size();
    std::int64_t skips = unet.block_out_channels.front() * latent * latent, widest = 0;  // conv_in's
    for (std::size_t i = 0; i < levels; ++i) {
      const auto cells = (latent >> i) * (latent >> i), channels = unet.block_out_channels[i];
      skips += (unet.layers_per_block[i] + (i + 1 < levels ? 1 : 0)) * channels * cells;
      // GEGLU's 8x projection, its gated half and their product; a resnet's five tensors.
      const bool attention = unet.down_blocks[i] == UNetBlock::cross_attention;
      widest = std::max(widest, (attention ? 18 : 5) * channels * cells);
    }
    denoiser_floats = skips + widest;
  }
  return 4 * std::max(vae_floats, denoiser_floats);
}

torch::Tensor alphas_cumprod(const NoiseScheduleConfig& s) {
  const auto f32 = torch::dtype(torch::kFloat32);
  torch::Tensor betas;
  if (s.beta_schedule == "scaled_linear") {
    betas =
        torch::linspace(std::sqrt(s.beta_start), std::sqrt(s.beta_end), s.num_train_timesteps, f32).pow(2);
  } else if (s.beta_schedule == "linear") {
    betas = torch::linspace(s.beta_start, s.beta_end, s.num_train_timesteps, f32);
  } else {  // squaredcos_cap_v2: the cosine schedule, computed in double and stored as float32
    const auto alpha_bar = [](double t) { return std::pow(std::cos((t + 0.008) / 1.008 * M_PI / 2), 2); };
    std::vector<double> b;
    for (std::int64_t i = 0; i < s.num_train_timesteps; ++i) {
      const double t1 = static_cast<double>(i) / s.num_train_timesteps;
      const double t2 = static_cast<double>(i + 1) / s.num_train_timesteps;
      b.push_back(std::min(1 - alpha_bar(t2) / alpha_bar(t1), 0.999));
    }
    betas = torch::tensor(b, torch::kFloat64).to(torch::kFloat32);
  }
  return torch::cumprod(1.0 - betas, 0);
}

torch::Tensor image_noise(const torch::Tensor& image, std::uint64_t seed, std::int64_t channels,
                          std::int64_t height, std::int64_t width) {
  const auto bytes = image.to(torch::kCPU, torch::kFloat32).contiguous();
  std::uint64_t h = 0xCBF29CE484222325ULL ^ seed;
  const auto* p = static_cast<const unsigned char*>(bytes.data_ptr());
  for (std::size_t i = 0; i < static_cast<std::size_t>(bytes.nbytes()); ++i)
    h = (h ^ p[i]) * 0x100000001B3ULL;
  auto generator = at::make_generator<at::CPUGeneratorImpl>(h);
  return torch::randn({channels, height, width}, generator, torch::dtype(torch::kFloat32));
}

struct DiffusionFeatures::Parts {
  DiffusionFolder folder;
  DiffusionOptions options;
  DiffusionGeometry geometry;
  AutoencoderKLEncoder vae{nullptr};
  UNet2DCondition unet{nullptr};
  DiTTransformer dit{nullptr};
  SD3Transformer sd3{nullptr};
  ClipImageEmbedder image_encoder{nullptr};
  torch::Tensor text_context, pooled;
  // The noise level: a beta schedule's alphas_cumprod[t], or flow matching's sigma at t and the
  // timestep the transformer is given for it (sigma * N).
  torch::Tensor alphas_cumprod, sigma, flow_timestep;
};

DiffusionFeatures::DiffusionFeatures(const std::string& folder, const DiffusionOptions& options)
    : parts_(std::make_unique<Parts>()) {
  auto& p = *parts_;
  p.folder = read_diffusion_folder(folder);
  p.geometry = diffusion_geometry(folder, options.block);
  p.options = options;
  p.options.block = p.geometry.block;
  const auto schedule = read_noise_schedule_config(part(part(folder, "scheduler"), "scheduler_config.json"));
  const std::int64_t lowest = schedule.flow_matching ? 1 : 0;
  if (options.timestep < lowest || options.timestep >= schedule.num_train_timesteps + lowest)
    throw InputError(part(folder, "scheduler") + ": timestep " + std::to_string(options.timestep) +
                     " outside " + std::to_string(lowest) + ".." +
                     std::to_string(schedule.num_train_timesteps - 1 + lowest));
  if (schedule.flow_matching != (p.folder.pipeline == DiffusionPipeline::sd3))
    throw InputError(part(folder, "scheduler") + ": a " + p.folder.class_name +
                     (schedule.flow_matching ? " with a flow-matching" : " with a beta") + " schedule");
  if (schedule.flow_matching) {
    // As FlowMatchEulerDiscreteScheduler builds its training schedule, in float32.
    const auto N = static_cast<double>(schedule.num_train_timesteps);
    const auto s = torch::tensor({static_cast<float>(options.timestep)}, torch::kFloat32) / N;
    p.sigma = schedule.shift * s / (1 + (schedule.shift - 1) * s);
    p.flow_timestep = p.sigma * N;
  } else {
    p.alphas_cumprod = alphas_cumprod(schedule);
  }

  p.vae = AutoencoderKLEncoder(read_autoencoder_config(part(part(folder, "vae"), "config.json")));
  p.vae->load(SafetensorsFolder(part(folder, "vae")));
  p.vae->eval();
  if (p.folder.pipeline == DiffusionPipeline::sd3) {
    const auto config = read_sd3_config(part(part(folder, "transformer"), "config.json"));
    p.sd3 = SD3Transformer(config, p.geometry.block);
    p.sd3->load(SafetensorsFolder(part(folder, "transformer")));
    p.sd3->eval();
    // As StableDiffusion3Pipeline.encode_prompt without T5: both CLIP encoders' penultimate states
    // side by side, padded with zeros to the joint width, then the T5 part's zero tokens; the pooled
    // text is both projected pooled tokens side by side.
    const auto first = encode_empty_prompt(folder, "text_encoder", "tokenizer", true);
    const auto second = encode_empty_prompt(folder, "text_encoder_2", "tokenizer_2", true);
    const auto clip = torch::cat({first.penultimate, second.penultimate}, -1);
    if (clip.size(2) > config.joint_attention_dim)
      throw InputError(folder + ": the text encoders' " + std::to_string(clip.size(2)) +
                       " channels are more than the transformer's joint_attention_dim " +
                       std::to_string(config.joint_attention_dim));
    p.text_context =
        torch::cat({torch::constant_pad_nd(clip, {0, config.joint_attention_dim - clip.size(2)}, 0),
                    torch::zeros({1, kSd3T5Tokens, config.joint_attention_dim})},
                   1);
    p.pooled = torch::cat({first.text_embeds, second.text_embeds}, -1);
    if (p.pooled.size(1) != config.pooled_projection_dim)
      throw InputError(folder + ": the pooled text has " + std::to_string(p.pooled.size(1)) +
                       " channels, the transformer's pooled_projection_dim is " +
                       std::to_string(config.pooled_projection_dim));
    return;
  }
  if (p.folder.pipeline == DiffusionPipeline::dit) {
    p.dit = DiTTransformer(read_dit_config(part(part(folder, "transformer"), "config.json")),
                           p.geometry.block, options.null_class);
    p.dit->load(SafetensorsFolder(part(folder, "transformer")));
    p.dit->eval();
    return;
  }
  const auto unet_config = read_unet_config(part(part(folder, "unet"), "config.json"));
  p.unet = UNet2DCondition(unet_config, p.geometry.block);
  p.unet->load(SafetensorsFolder(part(folder, "unet")));
  p.unet->eval();

  const auto context_dim = unet_config.cross_attention_dim.front();
  switch (p.folder.pipeline) {
    case DiffusionPipeline::stable_diffusion:
      p.text_context = encode_empty_prompt(folder, "text_encoder", "tokenizer", false).last_hidden_state;
      break;
    case DiffusionPipeline::stable_diffusion_xl: {
      // As StableDiffusionXLPipeline.encode_prompt: both encoders' penultimate states side by side,
      // and the second's projected pooled token.
      const auto first = encode_empty_prompt(folder, "text_encoder", "tokenizer", false);
      const auto second = encode_empty_prompt(folder, "text_encoder_2", "tokenizer_2", true);
      p.text_context = torch::cat({first.penultimate, second.penultimate}, -1);
      p.pooled = second.text_embeds;
      if (!unet_config.text_time)
        throw InputError(part(folder, "unet") + ": an SDXL U-Net without addition_embed_type text_time");
      if (unet_config.projection_class_embeddings_input_dim !=
          p.pooled.size(1) + 6 * unet_config.addition_time_embed_dim)
        throw InputError(part(folder, "unet") + ": projection_class_embeddings_input_dim " +
                         std::to_string(unet_config.projection_class_embeddings_input_dim) +
                         " is not the pooled text's " + std::to_string(p.pooled.size(1)) + " + 6 x " +
                         std::to_string(unet_config.addition_time_embed_dim));
      break;
    }
    case DiffusionPipeline::dit:
    case DiffusionPipeline::sd3:
      break;
    case DiffusionPipeline::image_variation: {
      const auto tower = read_vision_tower_config(part(part(folder, "image_encoder"), "config.json"));
      p.image_encoder = ClipImageEmbedder(tower);
      p.image_encoder->load(SafetensorsFolder(part(folder, "image_encoder")));
      p.image_encoder->eval();
      break;
    }
  }
  if (p.text_context.defined() && p.text_context.size(2) != context_dim)
    throw InputError(folder + ": the text embedding has " + std::to_string(p.text_context.size(2)) +
                     " channels, the U-Net's cross_attention_dim is " + std::to_string(context_dim));
}

DiffusionFeatures::~DiffusionFeatures() = default;

torch::Tensor DiffusionFeatures::latents(const torch::Tensor& pixels) { return parts_->vae->latents(pixels); }

torch::Tensor DiffusionFeatures::noised(const torch::Tensor& latents, const torch::Tensor& noise) const {
  if (parts_->sigma.defined()) {
    const auto sigma = parts_->sigma.to(latents.device());
    return sigma * noise + (1 - sigma) * latents;
  }
  const auto a = parts_->alphas_cumprod[parts_->options.timestep].to(latents.device());
  return a.pow(0.5) * latents + (1 - a).pow(0.5) * noise;
}

torch::Tensor DiffusionFeatures::context(const torch::Tensor& pixels) {
  auto& p = *parts_;
  if (p.image_encoder) {
    // As the paper's featurizer: the [-1, 1] pixels resized bilinearly to the CLIP tower's input.
    namespace F = torch::nn::functional;
    const auto side = p.image_encoder->image_size();
    const auto small = F::interpolate(pixels, F::InterpolateFuncOptions()
                                                  .size(std::vector<std::int64_t>{side, side})
                                                  .mode(torch::kBilinear)
                                                  .align_corners(false));
    return p.image_encoder->embed(small).unsqueeze(1);
  }
  if (!p.text_context.defined()) throw std::logic_error("DiT attends to no context");
  return p.text_context.expand({pixels.size(0), -1, -1});
}

torch::Tensor DiffusionFeatures::pooled_text() const { return parts_->pooled; }

torch::Tensor DiffusionFeatures::features(const torch::Tensor& pixels, const torch::Tensor& noise) {
  auto& p = *parts_;
  const auto B = pixels.size(0);
  const auto noisy = noised(latents(pixels), noise);
  if (p.sd3)
    return stack_2x2(p.sd3->block_output(noisy, p.flow_timestep.to(pixels.device()).expand({B}),
                                         context(pixels), p.pooled.expand({B, -1})));
  const auto timesteps =
      torch::full({B}, p.options.timestep, torch::dtype(torch::kInt64).device(pixels.device()));
  if (p.dit) return stack_2x2(p.dit->block_output(noisy, timesteps));
  UNetConditioning conditioning;
  conditioning.context = context(pixels);
  if (p.pooled.defined()) {
    conditioning.text_embeds = p.pooled.expand({B, -1});
    const double H = static_cast<double>(pixels.size(2)), W = static_cast<double>(pixels.size(3));
    conditioning.time_ids =
        torch::tensor({H, W, 0.0, 0.0, H, W}, pixels.options()).unsqueeze(0).expand({B, 6});
  }
  return p.unet->up_block_output(noisy, timesteps, conditioning);
}

std::int64_t DiffusionFeatures::channels() const { return parts_->geometry.channels; }
std::int64_t DiffusionFeatures::latent_channels() const { return parts_->vae->config().latent_channels; }
std::int64_t DiffusionFeatures::latent_factor() const { return parts_->vae->config().downsampling(); }
const DiffusionGeometry& DiffusionFeatures::geometry() const { return parts_->geometry; }

void DiffusionFeatures::to(torch::Device device) {
  auto& p = *parts_;
  p.vae->to(device);
  if (p.unet) p.unet->to(device);
  if (p.dit) p.dit->to(device);
  if (p.sd3) p.sd3->to(device);
  if (p.image_encoder) p.image_encoder->to(device);
  if (p.text_context.defined()) p.text_context = p.text_context.to(device);
  if (p.pooled.defined()) p.pooled = p.pooled.to(device);
}

}  // namespace acsweep::models
