#pragma once
// config.json of Hugging Face model folders, typed. Missing required keys, wrong types and
// impossible values are InputErrors naming the file and the key.
#include <cstdint>
#include <string>

namespace acsweep::models {

// Llama-family decoders (Llama, Vicuna, Mistral, Qwen2 and Qwen2.5): RMSNorm, RoPE, SwiGLU,
// grouped-query attention. Qwen2 differs only in its config: biases on the q, k and v
// projections, a large rope_theta, often tied embeddings, and sliding-window keys (refused where a
// layer would slide: see read_llama_config).
struct LlamaConfig {
  std::string model_type;  // "llama", "mistral" or "qwen2"
  std::int64_t vocab_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;
  std::int64_t num_key_value_heads = 0;  // defaults to num_attention_heads
  std::int64_t head_dim = 0;             // defaults to hidden_size / num_attention_heads
  std::int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // q_proj, k_proj and v_proj carry a bias (Qwen2; Llama's attention_bias)
  bool o_bias = false;    // o_proj carries one (Llama's attention_bias)
};

LlamaConfig read_llama_config(const std::string& path);

// A Llama's config from its sizes, the rest at config.json's defaults (tests and benchmarks build
// random models from it).
struct LlamaSizes {
  std::int64_t vocab = 0, hidden = 0, intermediate = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0;
};
LlamaConfig llama_config(const LlamaSizes& sizes, std::int64_t max_position_embeddings = 2048);

// Vision transformer towers, by the config's model_type: CLIP (clip_vision_model, or a whole
// clip model's "vision_config"; OpenAI CLIP and OpenCLIP in HF format), SigLIP (siglip,
// siglip_vision_model), SigLIP2 (siglip2, siglip2_vision_model; patches as a linear layer and a
// resized square table of positions) and DINOv2 (dinov2, dinov2_with_registers).
enum class VisionFamily { clip, siglip, siglip2, dinov2 };

struct VisionTowerConfig {
  VisionFamily family = VisionFamily::clip;
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;  // DINOv2: hidden_size * mlp_ratio
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;
  std::int64_t image_size = 0;
  std::int64_t patch_size = 0;
  std::int64_t num_patches = 0;          // SigLIP2's position table: a square of this many
  std::int64_t num_register_tokens = 0;  // DINOv2 with registers
  double layer_norm_eps = 1e-5;
  std::string hidden_act = "quick_gelu";  // quick_gelu, gelu, gelu_pytorch_tanh

  std::int64_t grid() const { return image_size / patch_size; }  // patches per side at image_size
};

VisionTowerConfig read_vision_tower_config(const std::string& path);

}  // namespace acsweep::models
