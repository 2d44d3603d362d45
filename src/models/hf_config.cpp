#include "acsweep/models/hf_config.hpp"

#include <cmath>
#include <nlohmann/json.hpp>

#include "acsweep/bounded_read.hpp"
#include "acsweep/error.hpp"
#include "json_fields.hpp"

namespace acsweep::models {
namespace {
using namespace json_fields;

// Upper bounds far above every released model (Llama 3.1 405B: hidden 16384, 126 layers, 128
// heads; vocabularies up to 256K), so that a damaged config is refused here, naming the key,
// rather than by the kernel's OOM killer or in an allocation deep inside LibTorch.
constexpr std::int64_t kMaxVocab = std::int64_t{1} << 23;
constexpr std::int64_t kMaxWidth = std::int64_t{1} << 16;         // hidden_size
constexpr std::int64_t kMaxIntermediate = std::int64_t{1} << 19;  // the MLP's inner width
constexpr std::int64_t kMaxLayers = 1024;
constexpr std::int64_t kMaxHeads = 1024;  // attention heads, and a head's width
constexpr std::int64_t kMaxPositions = std::int64_t{1} << 24;
constexpr std::int64_t kMaxImageSide = 16384;  // image_size, in pixels
constexpr std::int64_t kMaxPatches = std::int64_t{1} << 20;

// RoPE's base: transformers < 5 writes rope_theta (and rope_scaling) at the top; transformers 5
// writes rope_parameters {rope_type, rope_theta}. Only the plain rotation is supported.
double read_rope_theta(const nlohmann::json& doc, const std::string& path) {
  double theta = positive_real(doc, path, "rope_theta", 10000.0);
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (!doc.contains(key) || doc[key].is_null()) continue;
    const auto& rope = doc[key];
    if (!rope.is_object()) throw InputError(path + ": '" + key + "' must be an object, not " + rope.dump());
    const auto type =
        text(rope, path + " " + key, "rope_type", text(rope, path + " " + key, "type", "default"));
    if (type != "default")
      throw InputError(path + ": " + key + " of type '" + type + "' is not supported yet (only 'default')");
    theta = positive_real(rope, path + " " + key, "rope_theta", theta);
  }
  return theta;
}

// Qwen2's sliding-window attention: with use_sliding_window, layers from max_window_layers on
// attend only to the last sliding_window keys (transformers' layer_types). acsweep's attention has
// no window, so a config in which any layer would slide is refused rather than run with full
// attention. Every released Qwen2.5 has use_sliding_window false.
void refuse_sliding_layers(const nlohmann::json& doc, const std::string& path, std::int64_t layers) {
  // transformers 5 also writes each layer's kind.
  if (doc.contains("layer_types") && doc["layer_types"].is_array())
    for (std::size_t i = 0; i < doc["layer_types"].size(); ++i)
      if (doc["layer_types"][i] != "full_attention")
        throw InputError(path + ": 'layer_types' gives layer " + std::to_string(i) + " " +
                         doc["layer_types"][i].dump() + "; only full_attention is implemented");
  if (!flag(doc, path, "use_sliding_window", false)) return;
  const bool all = doc.contains("max_window_layers") && doc["max_window_layers"] == 0;
  const std::int64_t first = all ? 0 : positive(doc, path, "max_window_layers", kMaxLayers, layers);
  if (first < layers)
    throw InputError(path + ": 'use_sliding_window' is true and layers " + std::to_string(first) + " to " +
                     std::to_string(layers - 1) +
                     " (from 'max_window_layers') would use sliding-window attention, which acsweep does "
                     "not implement; set use_sliding_window to false, as every released Qwen2.5 has it");
}

}  // namespace

LlamaConfig llama_config(const LlamaSizes& sizes, std::int64_t max_position_embeddings) {
  LlamaConfig c;
  c.model_type = "llama";
  c.vocab_size = sizes.vocab;
  c.hidden_size = sizes.hidden;
  c.intermediate_size = sizes.intermediate;
  c.num_hidden_layers = sizes.layers;
  c.num_attention_heads = sizes.heads;
  c.num_key_value_heads = sizes.kv_heads;
  c.head_dim = sizes.head_dim;
  c.max_position_embeddings = max_position_embeddings;
  return c;
}

LlamaConfig read_llama_config(const std::string& path) {
  const nlohmann::json doc = read_json(path);
  LlamaConfig c;
  c.model_type = text(doc, path, "model_type", "");
  const bool qwen2 = c.model_type == "qwen2";
  if (c.model_type != "llama" && c.model_type != "mistral" && !qwen2)
    throw InputError(path + ": model_type '" + c.model_type +
                     "' is not a Llama-family decoder (llama, mistral, qwen2)");
  c.vocab_size = positive(doc, path, "vocab_size", kMaxVocab);
  c.hidden_size = positive(doc, path, "hidden_size", kMaxWidth);
  c.intermediate_size = positive(doc, path, "intermediate_size", kMaxIntermediate);
  c.num_hidden_layers = positive(doc, path, "num_hidden_layers", kMaxLayers);
  c.num_attention_heads = positive(doc, path, "num_attention_heads", kMaxHeads);
  c.num_key_value_heads = positive(doc, path, "num_key_value_heads", kMaxHeads, c.num_attention_heads);
  c.head_dim = positive(doc, path, "head_dim", kMaxHeads, c.hidden_size / c.num_attention_heads);
  c.max_position_embeddings = positive(doc, path, "max_position_embeddings", kMaxPositions, 2048);
  c.rms_norm_eps = positive_real(doc, path, "rms_norm_eps", 1e-6);
  c.rope_theta = read_rope_theta(doc, path);
  c.tie_word_embeddings = flag(doc, path, "tie_word_embeddings", false);
  // Llama's attention_bias puts a bias on all four projections; Qwen2 has one on q, k and v always.
  const bool attention_bias = flag(doc, path, "attention_bias", false);
  c.qkv_bias = qwen2 || attention_bias;
  c.o_bias = !qwen2 && attention_bias;
  if (text(doc, path, "hidden_act", "silu") != "silu")
    throw InputError(path + ": 'hidden_act' is " + doc["hidden_act"].dump() +
                     "; the SwiGLU MLP here is silu's");
  if (flag(doc, path, "mlp_bias", false))
    throw InputError(path + ": 'mlp_bias' is true: biases in the MLP are not supported");
  if (qwen2) refuse_sliding_layers(doc, path, c.num_hidden_layers);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    throw InputError(path + ": num_attention_heads " + std::to_string(c.num_attention_heads) +
                     " is not a multiple of num_key_value_heads " + std::to_string(c.num_key_value_heads));
  if (c.head_dim % 2 != 0)
    throw InputError(path + ": head_dim " + std::to_string(c.head_dim) + " is odd; RoPE needs pairs");
  return c;
}

VisionTowerConfig read_vision_tower_config(const std::string& path) {
  nlohmann::json doc = read_json(path);
  const std::string outer_type = text(doc, path, "model_type", "");
  if (doc.contains("vision_config")) {
    if (!doc["vision_config"].is_object())
      throw InputError(path + ": 'vision_config' must be an object, not " + doc["vision_config"].dump());
    doc = nlohmann::json(doc["vision_config"]);
  }
  const std::string type = text(doc, path, "model_type", outer_type);
  VisionTowerConfig c;
  if (type == "clip" || type == "clip_vision_model") {
    c.family = VisionFamily::clip;
  } else if (type == "siglip" || type == "siglip_vision_model") {
    c.family = VisionFamily::siglip;
  } else if (type == "siglip2" || type == "siglip2_vision_model") {
    c.family = VisionFamily::siglip2;
  } else if (type == "dinov2" || type == "dinov2_with_registers") {
    c.family = VisionFamily::dinov2;
  } else {
    throw InputError(
        path + ": model_type '" + type +
        "' is not a supported vision tower (clip, siglip, siglip2, dinov2, dinov2_with_registers);"
        " other encoders can be exported to TorchScript with an acsweep_encoder.json sidecar");
  }
  const bool dinov2 = c.family == VisionFamily::dinov2;
  c.hidden_size = positive(doc, path, "hidden_size", kMaxWidth);
  c.num_hidden_layers = positive(doc, path, "num_hidden_layers", kMaxLayers);
  c.num_attention_heads = positive(doc, path, "num_attention_heads", kMaxHeads);
  c.patch_size = positive(doc, path, "patch_size", kMaxImageSide);
  if (dinov2) {
    const double ratio = positive_real(doc, path, "mlp_ratio", 4.0);
    if (ratio > 64) throw InputError(path + ": 'mlp_ratio' is " + std::to_string(ratio) + " (at most 64)");
    c.intermediate_size = static_cast<std::int64_t>(c.hidden_size * ratio);
    c.image_size = positive(doc, path, "image_size", kMaxImageSide, 518);
    c.num_register_tokens = doc.contains("num_register_tokens") && doc["num_register_tokens"] == 0
                                ? 0
                                : positive(doc, path, "num_register_tokens", kMaxHeads, 0);
    if (flag(doc, path, "use_swiglu_ffn", false))
      throw InputError(path + ": 'use_swiglu_ffn' (DINOv2 giant) is not supported");
  } else {
    c.intermediate_size = positive(doc, path, "intermediate_size", kMaxIntermediate);
  }
  if (c.family == VisionFamily::siglip2) {
    c.num_patches = positive(doc, path, "num_patches", kMaxPatches, 256);
    const auto side = static_cast<std::int64_t>(std::lround(std::sqrt(static_cast<double>(c.num_patches))));
    if (side * side != c.num_patches) throw InputError(path + ": 'num_patches' is not a square");
    c.image_size = positive(doc, path, "image_size", kMaxImageSide, side * c.patch_size);
  } else if (!dinov2) {
    c.image_size = positive(doc, path, "image_size", kMaxImageSide);
  }
  const char* default_act = c.family == VisionFamily::clip ? "quick_gelu"
                            : dinov2                       ? "gelu"
                                                           : "gelu_pytorch_tanh";
  c.layer_norm_eps = positive_real(doc, path, "layer_norm_eps", dinov2 ? 1e-6 : 1e-5);
  c.hidden_act = text(doc, path, "hidden_act", default_act);
  if (c.hidden_act != "quick_gelu" && c.hidden_act != "gelu" && c.hidden_act != "gelu_pytorch_tanh")
    throw InputError(path + ": hidden_act '" + c.hidden_act +
                     "' is not quick_gelu, gelu or gelu_pytorch_tanh");
  if (c.image_size % c.patch_size != 0)
    throw InputError(path + ": image_size " + std::to_string(c.image_size) +
                     " is not a multiple of patch_size " + std::to_string(c.patch_size));
  if (c.hidden_size % c.num_attention_heads != 0)
    throw InputError(path + ": hidden_size is not a multiple of num_attention_heads");
  return c;
}

}  // namespace acsweep::models
