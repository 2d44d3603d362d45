#include "acsweep/models/diffusion_config.hpp"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "acsweep/bounded_read.hpp"
#include "acsweep/error.hpp"
#include "acsweep/path_checks.hpp"
#include "json_fields.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;
using namespace json_fields;

constexpr std::int64_t kMaxChannels = std::int64_t{1} << 16;
constexpr std::int64_t kMaxBlocks = 16;
constexpr std::int64_t kMaxLayers = 1024;
constexpr std::int64_t kMaxVocab = std::int64_t{1} << 23;
constexpr std::int64_t kMaxPositions = std::int64_t{1} << 16;

// A per-block setting: one number for every block, or a list of one per block.
std::vector<std::int64_t> per_block(const nlohmann::json& doc, const std::string& path, const char* key,
                                    std::size_t blocks, std::int64_t most, std::int64_t fallback) {
  if (!doc.contains(key) || doc[key].is_null()) return std::vector<std::int64_t>(blocks, fallback);
  const auto& value = doc[key];
  if (!value.is_array()) return std::vector<std::int64_t>(blocks, positive(doc, path, key, most));
  if (value.size() != blocks)
    throw InputError(path + ": '" + key + "' has " + std::to_string(value.size()) + " entries for " +
                     std::to_string(blocks) + " blocks");
  std::vector<std::int64_t> out;
  for (std::size_t i = 0; i < blocks; ++i) {
    nlohmann::json one{{key, value[i]}};
    out.push_back(positive(one, path, key, most));
  }
  return out;
}

std::vector<std::string> strings(const nlohmann::json& doc, const std::string& path, const char* key) {
  if (!doc.contains(key) || !doc[key].is_array() || doc[key].empty() ||
      doc[key].size() > static_cast<std::size_t>(kMaxBlocks))
    throw InputError(path + ": '" + key + "' must be a list of 1 to " + std::to_string(kMaxBlocks) +
                     " block types");
  std::vector<std::string> out;
  for (const auto& v : doc[key]) {
    if (!v.is_string()) throw InputError(path + ": '" + key + "' holds " + v.dump() + ", not a block type");
    out.push_back(v.get<std::string>());
  }
  return out;
}

// A key whose value would change the computation is refused unless it is the value implemented.
void require(const nlohmann::json& doc, const std::string& path, const char* key,
             const nlohmann::json& implemented) {
  if (!doc.contains(key)) return;
  const auto& value = doc[key];
  if (value == implemented || (implemented.is_null() && value.is_null())) return;
  if (implemented.is_number() && value.is_number() && value.get<double>() == implemented.get<double>())
    return;
  throw InputError(path + ": '" + key + "' is " + value.dump() + "; only " + implemented.dump() +
                   " is implemented natively");
}

double real(const nlohmann::json& doc, const std::string& path, const char* key, double fallback) {
  if (!doc.contains(key) || doc[key].is_null()) return fallback;
  if (!doc[key].is_number())
    throw InputError(path + ": '" + key + "' must be a number, not " + doc[key].dump());
  return doc[key].get<double>();
}

// A special token as tokenizer_config.json writes it: a string, or an AddedToken object.
std::string token_text(const nlohmann::json& doc, const std::string& path, const char* key) {
  if (!doc.contains(key) || doc[key].is_null()) return "";
  const auto& v = doc[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string())
    return v["content"].get<std::string>();
  throw InputError(path + ": '" + key + "' is " + v.dump() + ", not a token");
}

// The config's class (or model type) under `key`, `fallback` where it is not given: InputError unless
// it is one of `accepted`.
void expect_class(const nlohmann::json& doc, const std::string& path, const char* key, const char* fallback,
                  std::initializer_list<const char*> accepted) {
  const auto name = text(doc, path, key, fallback);
  for (const char* a : accepted)
    if (name == a) return;
  throw InputError(path + ": " + key + " '" + name + "' is not " + *accepted.begin());
}

// The shape DiT's and SD3's configs share; `c` holds diffusers' defaults for the class.
void read_patch_transformer(const nlohmann::json& doc, const std::string& path, PatchTransformerConfig& c) {
  c.heads = positive(doc, path, "num_attention_heads", kMaxChannels, c.heads);
  c.head_dim = positive(doc, path, "attention_head_dim", kMaxChannels, c.head_dim);
  c.in_channels = positive(doc, path, "in_channels", kMaxChannels, c.in_channels);
  c.layers = positive(doc, path, "num_layers", kMaxLayers, c.layers);
  c.sample_size = positive(doc, path, "sample_size", kMaxPositions, c.sample_size);
  c.patch_size = positive(doc, path, "patch_size", 64, c.patch_size);
  if (c.sample_size % c.patch_size != 0)
    throw InputError(path + ": sample_size is not a multiple of patch_size");
}

}  // namespace

bool is_diffusion_folder(const std::string& folder) {
  return is_file((fs::path(folder) / "model_index.json").string());
}

DiffusionFolder read_diffusion_folder(const std::string& folder) {
  const std::string path = (fs::path(folder) / "model_index.json").string();
  const auto doc = read_json(path);
  DiffusionFolder out;
  out.folder = folder;
  out.class_name = text(doc, path, "_class_name", "");
  std::vector<const char*> parts{"unet", "vae", "scheduler"};
  if (out.class_name == "StableDiffusionPipeline") {
    out.pipeline = DiffusionPipeline::stable_diffusion;
    parts.insert(parts.end(), {"text_encoder", "tokenizer"});
  } else if (out.class_name == "StableDiffusionXLPipeline") {
    out.pipeline = DiffusionPipeline::stable_diffusion_xl;
    parts.insert(parts.end(), {"text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2"});
  } else if (out.class_name == "StableDiffusionImageVariationPipeline") {
    out.pipeline = DiffusionPipeline::image_variation;
    parts.push_back("image_encoder");
  } else if (out.class_name == "DiTPipeline") {
    out.pipeline = DiffusionPipeline::dit;
    parts = {"transformer", "vae", "scheduler"};
  } else if (out.class_name == "StableDiffusion3Pipeline") {
    out.pipeline = DiffusionPipeline::sd3;
    parts = {"transformer", "vae", "scheduler", "text_encoder", "tokenizer", "text_encoder_2", "tokenizer_2"};
  } else {
    throw InputError(path + ": _class_name '" + out.class_name +
                     "' is not a pipeline with native features (StableDiffusionPipeline, "
                     "StableDiffusionXLPipeline, StableDiffusionImageVariationPipeline, DiTPipeline, "
                     "StableDiffusion3Pipeline); export it to TorchScript with an acsweep_encoder.json "
                     "sidecar");
  }
  for (const char* part : parts)
    if (!is_folder((fs::path(folder) / part).string()))
      throw InputError(folder + ": the " + out.class_name + " folder has no " + part + "/");
  return out;
}

UNetConfig read_unet_config(const std::string& path) {
  const auto doc = read_json(path);
  expect_class(doc, path, "_class_name", "UNet2DConditionModel", {"UNet2DConditionModel"});
  for (const auto& [key, value] :
       std::vector<std::pair<const char*, nlohmann::json>>{{"center_input_sample", false},
                                                           {"class_embed_type", nullptr},
                                                           {"num_class_embeds", nullptr},
                                                           {"time_embedding_type", "positional"},
                                                           {"time_embedding_dim", nullptr},
                                                           {"time_embedding_act_fn", nullptr},
                                                           {"timestep_post_act", nullptr},
                                                           {"time_cond_proj_dim", nullptr},
                                                           {"encoder_hid_dim", nullptr},
                                                           {"encoder_hid_dim_type", nullptr},
                                                           {"dual_cross_attention", false},
                                                           {"only_cross_attention", false},
                                                           {"resnet_time_scale_shift", "default"},
                                                           {"resnet_skip_time_act", false},
                                                           {"resnet_out_scale_factor", 1.0},
                                                           {"conv_in_kernel", 3},
                                                           {"act_fn", "silu"},
                                                           {"attention_type", "default"},
                                                           {"class_embeddings_concat", false},
                                                           {"mid_block_only_cross_attention", nullptr},
                                                           {"cross_attention_norm", nullptr},
                                                           {"num_attention_heads", nullptr},
                                                           {"mid_block_type", "UNetMidBlock2DCrossAttn"}})
    require(doc, path, key, value);
  UNetConfig c;
  c.in_channels = positive(doc, path, "in_channels", kMaxChannels, 4);
  c.sample_size = positive(doc, path, "sample_size", kMaxPositions, 64);
  for (const auto& type : strings(doc, path, "down_block_types")) {
    if (type != "CrossAttnDownBlock2D" && type != "DownBlock2D")
      throw InputError(path + ": down block '" + type + "' is not CrossAttnDownBlock2D or DownBlock2D");
    c.down_blocks.push_back(type == "DownBlock2D" ? UNetBlock::plain : UNetBlock::cross_attention);
  }
  for (const auto& type : strings(doc, path, "up_block_types")) {
    if (type != "CrossAttnUpBlock2D" && type != "UpBlock2D")
      throw InputError(path + ": up block '" + type + "' is not CrossAttnUpBlock2D or UpBlock2D");
    c.up_blocks.push_back(type == "UpBlock2D" ? UNetBlock::plain : UNetBlock::cross_attention);
  }
  const auto blocks = c.down_blocks.size();
  if (c.up_blocks.size() != blocks)
    throw InputError(path + ": " + std::to_string(c.up_blocks.size()) + " up blocks for " +
                     std::to_string(blocks) + " down blocks");
  if (!doc.contains("block_out_channels") || !doc["block_out_channels"].is_array())
    throw InputError(path + ": missing key 'block_out_channels'");
  c.block_out_channels = per_block(doc, path, "block_out_channels", blocks, kMaxChannels, 0);
  c.layers_per_block = per_block(doc, path, "layers_per_block", blocks, kMaxLayers, 2);
  c.transformer_layers_per_block =
      per_block(doc, path, "transformer_layers_per_block", blocks, kMaxLayers, 1);
  if (doc.contains("reverse_transformer_layers_per_block") &&
      !doc["reverse_transformer_layers_per_block"].is_null())
    throw InputError(path +
                     ": 'reverse_transformer_layers_per_block' (nested per-layer lists) is not supported");
  c.reverse_transformer_layers_per_block.assign(c.transformer_layers_per_block.rbegin(),
                                                c.transformer_layers_per_block.rend());
  c.attention_heads = per_block(doc, path, "attention_head_dim", blocks, kMaxChannels, 8);
  c.cross_attention_dim = per_block(doc, path, "cross_attention_dim", blocks, kMaxChannels, 1280);
  c.norm_num_groups = positive(doc, path, "norm_num_groups", kMaxChannels, 32);
  c.norm_eps = positive_real(doc, path, "norm_eps", 1e-5);
  c.flip_sin_to_cos = flag(doc, path, "flip_sin_to_cos", true);
  c.freq_shift = real(doc, path, "freq_shift", 0);
  c.downsample_padding = doc.contains("downsample_padding") && doc["downsample_padding"] == 0
                             ? 0
                             : positive(doc, path, "downsample_padding", 8, 1);
  c.mid_block_scale_factor = positive_real(doc, path, "mid_block_scale_factor", 1);
  c.use_linear_projection = flag(doc, path, "use_linear_projection", false);
  const auto addition = text(doc, path, "addition_embed_type", "");
  if (addition == "text_time") {
    c.text_time = true;
    c.addition_time_embed_dim = positive(doc, path, "addition_time_embed_dim", kMaxChannels);
    c.projection_class_embeddings_input_dim =
        positive(doc, path, "projection_class_embeddings_input_dim", kMaxChannels);
  } else if (!addition.empty()) {
    throw InputError(path + ": addition_embed_type '" + addition + "' is not supported (only text_time)");
  }
  for (std::size_t i = 0; i < blocks; ++i) {
    const auto ch = c.block_out_channels[i];
    if (ch % c.norm_num_groups != 0)
      throw InputError(path + ": block_out_channels " + std::to_string(ch) +
                       " is not a multiple of norm_num_groups " + std::to_string(c.norm_num_groups));
    if (ch % c.attention_heads[i] != 0)
      throw InputError(path + ": block_out_channels " + std::to_string(ch) +
                       " is not a multiple of its attention heads " + std::to_string(c.attention_heads[i]));
  }
  return c;
}

DiTConfig read_dit_config(const std::string& path) {
  const auto doc = read_json(path);
  expect_class(doc, path, "_class_name", "DiTTransformer2DModel",
               {"DiTTransformer2DModel", "Transformer2DModel"});
  // Transformer2DModel is DiT's older name: the same model when its norm is ada_norm_zero on patches.
  require(doc, path, "norm_type", "ada_norm_zero");
  require(doc, path, "activation_fn", "gelu-approximate");
  require(doc, path, "norm_elementwise_affine", false);
  require(doc, path, "attention_bias", true);
  require(doc, path, "cross_attention_dim", nullptr);
  require(doc, path, "only_cross_attention", false);
  require(doc, path, "double_self_attention", false);
  DiTConfig c;
  read_patch_transformer(doc, path, c);
  c.num_classes = positive(doc, path, "num_embeds_ada_norm", kMaxVocab, 1000);
  c.norm_eps = positive_real(doc, path, "norm_eps", 1e-5);
  if (c.width() % 4 != 0) throw InputError(path + ": the width heads x head_dim is not a multiple of 4");
  return c;
}

SD3Config read_sd3_config(const std::string& path) {
  const auto doc = read_json(path);
  expect_class(doc, path, "_class_name", "SD3Transformer2DModel", {"SD3Transformer2DModel"});
  SD3Config c;
  read_patch_transformer(doc, path, c);
  c.joint_attention_dim = positive(doc, path, "joint_attention_dim", kMaxChannels, 4096);
  c.pooled_projection_dim = positive(doc, path, "pooled_projection_dim", kMaxChannels, 2048);
  c.pos_embed_max_size = positive(doc, path, "pos_embed_max_size", 4096, 96);
  // The text stream keeps the image stream's width: each block's text norms and projections take it.
  const auto caption = positive(doc, path, "caption_projection_dim", kMaxChannels, 1152);
  if (caption != c.width())
    throw InputError(path + ": caption_projection_dim " + std::to_string(caption) +
                     " is not num_attention_heads x attention_head_dim " + std::to_string(c.width()));
  const auto qk_norm =
      doc.contains("qk_norm") && !doc["qk_norm"].is_null() ? text(doc, path, "qk_norm", "") : "";
  if (!qk_norm.empty() && qk_norm != "rms_norm")
    throw InputError(path + ": qk_norm '" + qk_norm + "' is not supported (only rms_norm, or none)");
  c.qk_rms_norm = qk_norm == "rms_norm";
  c.dual_attention.assign(static_cast<std::size_t>(c.layers), false);
  if (doc.contains("dual_attention_layers") && !doc["dual_attention_layers"].is_null()) {
    const auto& layers = doc["dual_attention_layers"];
    if (!layers.is_array())
      throw InputError(path + ": 'dual_attention_layers' must be a list of layer indices");
    for (const auto& v : layers) {
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() >= c.layers)
        throw InputError(path + ": 'dual_attention_layers' holds " + v.dump() + ", not a layer 0.." +
                         std::to_string(c.layers - 1));
      c.dual_attention[static_cast<std::size_t>(v.get<std::int64_t>())] = true;
    }
  }
  return c;
}

AutoencoderConfig read_autoencoder_config(const std::string& path) {
  const auto doc = read_json(path);
  expect_class(doc, path, "_class_name", "AutoencoderKL", {"AutoencoderKL"});
  require(doc, path, "act_fn", "silu");
  require(doc, path, "latents_mean", nullptr);
  AutoencoderConfig c;
  c.in_channels = positive(doc, path, "in_channels", kMaxChannels, 3);
  c.latent_channels = positive(doc, path, "latent_channels", kMaxChannels, 4);
  const auto types = strings(doc, path, "down_block_types");
  for (const auto& type : types)
    if (type != "DownEncoderBlock2D")
      throw InputError(path + ": down block '" + type + "' is not DownEncoderBlock2D");
  if (!doc.contains("block_out_channels") || !doc["block_out_channels"].is_array())
    throw InputError(path + ": missing key 'block_out_channels'");
  c.block_out_channels = per_block(doc, path, "block_out_channels", types.size(), kMaxChannels, 0);
  c.layers_per_block = positive(doc, path, "layers_per_block", kMaxLayers, 1);
  c.norm_num_groups = positive(doc, path, "norm_num_groups", kMaxChannels, 32);
  c.scaling_factor = positive_real(doc, path, "scaling_factor", 0.18215);
  c.shift_factor = real(doc, path, "shift_factor", 0);
  c.use_quant_conv = flag(doc, path, "use_quant_conv", true);
  c.mid_block_add_attention = flag(doc, path, "mid_block_add_attention", true);
  for (const auto ch : c.block_out_channels)
    if (ch % c.norm_num_groups != 0)
      throw InputError(path + ": block_out_channels " + std::to_string(ch) +
                       " is not a multiple of norm_num_groups");
  return c;
}

NoiseScheduleConfig read_noise_schedule_config(const std::string& path) {
  const auto doc = read_json(path);
  NoiseScheduleConfig c;
  c.num_train_timesteps = positive(doc, path, "num_train_timesteps", 1 << 20, 1000);
  if (text(doc, path, "_class_name", "") == "FlowMatchEulerDiscreteScheduler") {
    // The training schedule as the scheduler builds it before any set_timesteps; a resolution-dependent
    // shift would need the image's size, and is not what SD3 was released with.
    require(doc, path, "use_dynamic_shifting", false);
    c.flow_matching = true;
    c.shift = positive_real(doc, path, "shift", 1.0);
    return c;
  }
  require(doc, path, "trained_betas", nullptr);
  require(doc, path, "rescale_betas_zero_snr", false);
  c.beta_start = positive_real(doc, path, "beta_start", 0.0001);
  c.beta_end = positive_real(doc, path, "beta_end", 0.02);
  c.beta_schedule = text(doc, path, "beta_schedule", "linear");
  if (c.beta_schedule != "linear" && c.beta_schedule != "scaled_linear" &&
      c.beta_schedule != "squaredcos_cap_v2")
    throw InputError(path + ": beta_schedule '" + c.beta_schedule +
                     "' is not linear, scaled_linear or squaredcos_cap_v2");
  if (c.beta_end >= 1 || c.beta_start >= 1)
    throw InputError(path + ": beta_start and beta_end must be below 1");
  return c;
}

ClipTextConfig read_clip_text_config(const std::string& path) {
  const auto doc = read_json(path);
  expect_class(doc, path, "model_type", "clip_text_model", {"clip_text_model"});
  ClipTextConfig c;
  c.vocab_size = positive(doc, path, "vocab_size", kMaxVocab);
  c.hidden_size = positive(doc, path, "hidden_size", kMaxChannels);
  c.intermediate_size = positive(doc, path, "intermediate_size", std::int64_t{1} << 19);
  c.num_hidden_layers = positive(doc, path, "num_hidden_layers", kMaxLayers);
  c.num_attention_heads = positive(doc, path, "num_attention_heads", kMaxChannels);
  c.max_position_embeddings = positive(doc, path, "max_position_embeddings", kMaxPositions, 77);
  c.projection_dim = positive(doc, path, "projection_dim", kMaxChannels, 512);
  c.eos_token_id = doc.contains("eos_token_id") && doc["eos_token_id"] == 0
                       ? 0
                       : positive(doc, path, "eos_token_id", kMaxVocab, 2);
  c.layer_norm_eps = positive_real(doc, path, "layer_norm_eps", 1e-5);
  c.hidden_act = text(doc, path, "hidden_act", "quick_gelu");
  if (c.hidden_act != "quick_gelu" && c.hidden_act != "gelu")
    throw InputError(path + ": hidden_act '" + c.hidden_act + "' is not quick_gelu or gelu");
  if (c.hidden_size % c.num_attention_heads != 0)
    throw InputError(path + ": hidden_size is not a multiple of num_attention_heads");
  return c;
}

std::vector<std::int64_t> empty_prompt_ids(const std::string& folder) {
  const std::string config_path = (fs::path(folder) / "tokenizer_config.json").string();
  const std::string map_path = (fs::path(folder) / "special_tokens_map.json").string();
  const std::string vocab_path = (fs::path(folder) / "vocab.json").string();
  nlohmann::json config = is_file(config_path) ? read_json(config_path) : nlohmann::json::object();
  const nlohmann::json specials = is_file(map_path) ? read_json(map_path) : nlohmann::json::object();
  const auto special = [&](const char* key) {
    auto t = token_text(config, config_path, key);
    if (t.empty()) t = token_text(specials, map_path, key);
    if (t.empty())
      throw InputError(folder + ": no " + key + " in tokenizer_config.json or special_tokens_map.json");
    return t;
  };
  const auto length = positive(config, config_path, "model_max_length", kMaxPositions, 77);
  const nlohmann::json vocab = read_json(vocab_path);  // CLIP's: about 1 MB
  const auto id = [&](const std::string& token) {
    if (!vocab.contains(token) || !vocab[token].is_number_integer() || vocab[token].get<std::int64_t>() < 0)
      throw InputError(vocab_path + ": no id for the special token '" + token + "'");
    return vocab[token].get<std::int64_t>();
  };
  if (length < 2)
    throw InputError(config_path + ": model_max_length " + std::to_string(length) + " holds no prompt");
  std::vector<std::int64_t> ids(static_cast<std::size_t>(length), id(special("pad_token")));
  ids[0] = id(special("bos_token"));
  ids[1] = id(special("eos_token"));
  return ids;
}

}  // namespace acsweep::models
