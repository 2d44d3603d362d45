#pragma once
// config.json of Hugging Face model folders, typed. Missing required keys, wrong types and
// impossible values are InputErrors naming the file and the key.
#include <cstdint>
#include <string>

namespace acsweep::models {

// Llama-family decoders (Llama, Vicuna, Mistral): RMSNorm, RoPE, SwiGLU, grouped-query attention.
struct LlamaConfig {
  std::string model_type;  // "llama" or "mistral"
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
};

LlamaConfig read_llama_config(const std::string& path);

// CLIP vision towers (OpenAI CLIP and OpenCLIP in HF format): read from a CLIPVisionModel's
// config.json, or from the "vision_config" of a whole CLIPModel's.
struct ClipVisionConfig {
  std::int64_t hidden_size = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;
  std::int64_t image_size = 0;
  std::int64_t patch_size = 0;
  double layer_norm_eps = 1e-5;
  std::string hidden_act = "quick_gelu";  // or "gelu"
};

ClipVisionConfig read_clip_vision_config(const std::string& path);

}  // namespace acsweep::models
