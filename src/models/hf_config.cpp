#include "acsweep/models/hf_config.hpp"

#include <fstream>
#include <nlohmann/json.hpp>

#include "acsweep/error.hpp"

namespace acsweep::models {
namespace {

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not JSON: " + e.what());
  }
}

std::int64_t positive(const nlohmann::json& doc, const std::string& path, const char* key,
                      std::int64_t fallback = -1) {
  if (!doc.contains(key) || doc[key].is_null()) {
    if (fallback >= 0) return fallback;
    throw InputError(path + ": missing key '" + key + "'");
  }
  if (!doc[key].is_number_integer() || doc[key].get<std::int64_t>() <= 0)
    throw InputError(path + ": '" + key + "' must be a positive whole number, not " + doc[key].dump());
  return doc[key].get<std::int64_t>();
}

double positive_real(const nlohmann::json& doc, const std::string& path, const char* key, double fallback) {
  if (!doc.contains(key) || doc[key].is_null()) return fallback;
  if (!doc[key].is_number() || doc[key].get<double>() <= 0)
    throw InputError(path + ": '" + key + "' must be a positive number, not " + doc[key].dump());
  return doc[key].get<double>();
}

}  // namespace

LlamaConfig read_llama_config(const std::string& path) {
  const nlohmann::json doc = read_json(path);
  LlamaConfig c;
  c.model_type = doc.value("model_type", "");
  if (c.model_type != "llama" && c.model_type != "mistral")
    throw InputError(path + ": model_type '" + c.model_type +
                     "' is not a Llama-family decoder (llama, mistral)");
  c.vocab_size = positive(doc, path, "vocab_size");
  c.hidden_size = positive(doc, path, "hidden_size");
  c.intermediate_size = positive(doc, path, "intermediate_size");
  c.num_hidden_layers = positive(doc, path, "num_hidden_layers");
  c.num_attention_heads = positive(doc, path, "num_attention_heads");
  c.num_key_value_heads = positive(doc, path, "num_key_value_heads", c.num_attention_heads);
  c.head_dim = positive(doc, path, "head_dim", c.hidden_size / c.num_attention_heads);
  c.max_position_embeddings = positive(doc, path, "max_position_embeddings", 2048);
  c.rms_norm_eps = positive_real(doc, path, "rms_norm_eps", 1e-6);
  c.rope_theta = positive_real(doc, path, "rope_theta", 10000.0);
  if (doc.contains("tie_word_embeddings") && !doc["tie_word_embeddings"].is_boolean())
    throw InputError(path + ": 'tie_word_embeddings' must be true or false");
  c.tie_word_embeddings = doc.value("tie_word_embeddings", false);
  if (c.num_attention_heads % c.num_key_value_heads != 0)
    throw InputError(path + ": num_attention_heads " + std::to_string(c.num_attention_heads) +
                     " is not a multiple of num_key_value_heads " + std::to_string(c.num_key_value_heads));
  if (c.head_dim % 2 != 0)
    throw InputError(path + ": head_dim " + std::to_string(c.head_dim) + " is odd; RoPE needs pairs");
  if (doc.contains("rope_scaling") && !doc["rope_scaling"].is_null())
    throw InputError(path + ": 'rope_scaling' is not supported yet");
  return c;
}

ClipVisionConfig read_clip_vision_config(const std::string& path) {
  nlohmann::json doc = read_json(path);
  if (doc.contains("vision_config")) doc = doc["vision_config"];
  ClipVisionConfig c;
  c.hidden_size = positive(doc, path, "hidden_size");
  c.intermediate_size = positive(doc, path, "intermediate_size");
  c.num_hidden_layers = positive(doc, path, "num_hidden_layers");
  c.num_attention_heads = positive(doc, path, "num_attention_heads");
  c.image_size = positive(doc, path, "image_size");
  c.patch_size = positive(doc, path, "patch_size");
  c.layer_norm_eps = positive_real(doc, path, "layer_norm_eps", 1e-5);
  c.hidden_act = doc.value("hidden_act", "quick_gelu");
  if (c.hidden_act != "quick_gelu" && c.hidden_act != "gelu")
    throw InputError(path + ": hidden_act '" + c.hidden_act + "' is not quick_gelu or gelu");
  if (c.image_size % c.patch_size != 0)
    throw InputError(path + ": image_size " + std::to_string(c.image_size) +
                     " is not a multiple of patch_size " + std::to_string(c.patch_size));
  if (c.hidden_size % c.num_attention_heads != 0)
    throw InputError(path + ": hidden_size is not a multiple of num_attention_heads");
  return c;
}

}  // namespace acsweep::models
