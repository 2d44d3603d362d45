#include "acsweep/models/clip_conditioning.hpp"

#include "acsweep/error.hpp"
#include "acsweep/models/linear.hpp"
#include "acsweep/models/torch_weights.hpp"

namespace acsweep::models {
namespace {

// The layer shape a CLIP text layer shares with a CLIP vision layer.
VisionTowerConfig layer_config(const ClipTextConfig& c) {
  VisionTowerConfig v;
  v.family = VisionFamily::clip;
  v.hidden_size = c.hidden_size;
  v.intermediate_size = c.intermediate_size;
  v.num_hidden_layers = c.num_hidden_layers;
  v.num_attention_heads = c.num_attention_heads;
  v.layer_norm_eps = c.layer_norm_eps;
  v.hidden_act = c.hidden_act;
  return v;
}

torch::nn::LayerNorm layer_norm(std::int64_t width, double eps) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({width}).eps(eps));
}

}  // namespace

ClipTextEncoderImpl::ClipTextEncoderImpl(const ClipTextConfig& config, bool with_projection)
    : config_(config) {
  const auto D = config.hidden_size;
  text_model_ = register_module("text_model", std::make_shared<torch::nn::Module>());
  auto embeddings = text_model_->register_module("embeddings", std::make_shared<torch::nn::Module>());
  token_embedding_ =
      embeddings->register_module("token_embedding", torch::nn::Embedding(config.vocab_size, D));
  position_embedding_ = embeddings->register_module("position_embedding",
                                                    torch::nn::Embedding(config.max_position_embeddings, D));
  auto encoder = text_model_->register_module("encoder", std::make_shared<torch::nn::Module>());
  layers_ = encoder->register_module("layers", torch::nn::ModuleList());
  const auto layer = layer_config(config);
  for (std::int64_t i = 0; i < config.num_hidden_layers; ++i) layers_->push_back(VisionEncoderLayer(layer));
  final_layer_norm_ = text_model_->register_module("final_layer_norm", layer_norm(D, config.layer_norm_eps));
  if (with_projection)
    text_projection_ = register_module(
        "text_projection", torch::nn::Linear(torch::nn::LinearOptions(D, config.projection_dim).bias(false)));
}

void ClipTextEncoderImpl::load(const SafetensorsFolder& weights) {
  // Saved under text_model.* (CLIPTextModel, and transformers < 5) or without the prefix.
  if (weights.contains("text_model.embeddings.token_embedding.weight") ||
      !weights.contains("embeddings.token_embedding.weight")) {
    load_parameters(*this, weights);
    return;
  }
  load_parameters(*text_model_, weights);
  if (text_projection_) load_parameters(*text_projection_, weights, "text_projection.");
}

ClipTextOutput ClipTextEncoderImpl::encode(const torch::Tensor& ids) {
  const auto T = ids.size(1);
  if (T > config_.max_position_embeddings)
    throw std::invalid_argument("CLIP text: " + std::to_string(T) + " tokens, more than its " +
                                std::to_string(config_.max_position_embeddings) + " positions");
  auto x = token_embedding_(ids) + position_embedding_->weight.slice(0, 0, T).unsqueeze(0);
  ClipTextOutput out;
  for (std::size_t i = 0; i < layers_->size(); ++i) {
    if (i + 1 == layers_->size()) out.penultimate = x;
    x = layers_[i]->as<VisionEncoderLayer>()->forward(x, /*causal=*/true);
  }
  out.last_hidden_state = final_layer_norm_(x);
  if (text_projection_) {
    // The pooled token: the first end-of-text (transformers; the legacy eos id 2 takes the largest id).
    const auto eos =
        config_.eos_token_id == 2 ? ids.argmax(-1) : ids.eq(config_.eos_token_id).to(torch::kInt).argmax(-1);
    const auto rows = torch::arange(ids.size(0), ids.options());
    out.text_embeds = linear(text_projection_, out.last_hidden_state.index({rows, eos}));
  }
  return out;
}

ClipImageEmbedderImpl::ClipImageEmbedderImpl(const VisionTowerConfig& config) {
  if (config.family != VisionFamily::clip)
    throw std::invalid_argument("the image embedding of SD image variations is CLIP's");
  tower_ = register_module("tower", VisionTransformer(config));
  post_layernorm_ = register_module("post_layernorm", layer_norm(config.hidden_size, config.layer_norm_eps));
}

void ClipImageEmbedderImpl::load(const SafetensorsFolder& weights) {
  tower_->load(weights);
  const bool prefixed = weights.contains("vision_model.post_layernorm.weight");
  load_parameters(*post_layernorm_, weights, prefixed ? "vision_model.post_layernorm." : "post_layernorm.");
  const auto& projection = weights.tensor("visual_projection.weight");
  if (projection.shape.size() != 2 || projection.shape[1] != tower_->config().hidden_size)
    throw InputError(weights.folder() + ": visual_projection.weight is not [projection_dim, hidden_size]");
  visual_projection_ = register_module(
      "visual_projection",
      torch::nn::Linear(torch::nn::LinearOptions(projection.shape[1], projection.shape[0]).bias(false)));
  load_parameters(*visual_projection_, weights, "visual_projection.");
}

torch::Tensor ClipImageEmbedderImpl::embed(const torch::Tensor& pixels) {
  const auto last = tower_->hidden_states(pixels, -1);
  return linear(visual_projection_, post_layernorm_(last.select(1, 0)));
}

}  // namespace acsweep::models
