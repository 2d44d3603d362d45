#include "acsweep/models/clip_vision.hpp"

#include <filesystem>
#include <stdexcept>

#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"

namespace F = torch::nn::functional;

namespace acsweep::models {

ClipEncoderLayerImpl::ClipEncoderLayerImpl(const ClipVisionConfig& config) : config_(config) {
  const auto D = config.hidden_size;
  auto attn = std::make_shared<torch::nn::Module>();
  q_proj_ = attn->register_module("q_proj", torch::nn::Linear(D, D));
  k_proj_ = attn->register_module("k_proj", torch::nn::Linear(D, D));
  v_proj_ = attn->register_module("v_proj", torch::nn::Linear(D, D));
  out_proj_ = attn->register_module("out_proj", torch::nn::Linear(D, D));
  register_module("self_attn", attn);
  auto mlp = std::make_shared<torch::nn::Module>();
  fc1_ = mlp->register_module("fc1", torch::nn::Linear(D, config.intermediate_size));
  fc2_ = mlp->register_module("fc2", torch::nn::Linear(config.intermediate_size, D));
  register_module("mlp", mlp);
  const auto norm = torch::nn::LayerNormOptions({D}).eps(config.layer_norm_eps);
  layer_norm1_ = register_module("layer_norm1", torch::nn::LayerNorm(norm));
  layer_norm2_ = register_module("layer_norm2", torch::nn::LayerNorm(norm));
}

torch::Tensor ClipEncoderLayerImpl::forward(const torch::Tensor& x) {
  const auto B = x.size(0), T = x.size(1), H = config_.num_attention_heads, d = config_.hidden_size / H;
  const auto h = layer_norm1_(x);
  const auto split = [&](const torch::Tensor& t) { return t.view({B, T, H, d}).transpose(1, 2); };
  const auto q = split(q_proj_(h)), k = split(k_proj_(h)), v = split(v_proj_(h));
  const auto attention =
      torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d)), -1);
  const auto y = x + out_proj_(torch::matmul(attention, v).transpose(1, 2).reshape({B, T, H * d}));
  auto m = fc1_(layer_norm2_(y));
  m = config_.hidden_act == "quick_gelu" ? m * torch::sigmoid(1.702 * m) : F::gelu(m);
  return y + fc2_(m);
}

ClipVisionTowerImpl::ClipVisionTowerImpl(const ClipVisionConfig& config) : config_(config) {
  const auto D = config.hidden_size, grid = config.image_size / config.patch_size;
  vision_model_ = register_module("vision_model", std::make_shared<torch::nn::Module>());
  embeddings_ = vision_model_->register_module("embeddings", std::make_shared<torch::nn::Module>());
  class_embedding_ = embeddings_->register_parameter("class_embedding", torch::zeros({D}));
  patch_embedding_ = embeddings_->register_module(
      "patch_embedding",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(3, D, config.patch_size).stride(config.patch_size).bias(false)));
  position_embedding_ =
      embeddings_->register_module("position_embedding", torch::nn::Embedding(grid * grid + 1, D));
  pre_layrnorm_ = vision_model_->register_module(
      "pre_layrnorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({D}).eps(config.layer_norm_eps)));
  encoder_ = vision_model_->register_module("encoder", std::make_shared<torch::nn::Module>());
  layers_ = encoder_->register_module("layers", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < config.num_hidden_layers; ++i) layers_->push_back(ClipEncoderLayer(config));
}

torch::Tensor ClipVisionTowerImpl::forward(const torch::Tensor& pixels, int layer, bool keep_class_token) {
  const auto L = config_.num_hidden_layers;
  const auto last = layer < 0 ? L + 1 + layer : layer;  // hidden states 0..L
  if (last < 0 || last > L)
    throw std::invalid_argument("CLIP: layer " + std::to_string(layer) + " outside the tower's " +
                                std::to_string(L));
  const auto B = pixels.size(0);
  auto x = patch_embedding_(pixels).flatten(2).transpose(1, 2);  // [B, G*G, D]
  x = torch::cat({class_embedding_.expand({B, 1, -1}), x}, 1) + position_embedding_->weight.unsqueeze(0);
  x = pre_layrnorm_(x);
  for (std::int64_t i = 0; i < last; ++i)
    x = layers_[static_cast<std::size_t>(i)]->as<ClipEncoderLayer>()->forward(x);
  return keep_class_token ? x : x.slice(1, 1);
}

ClipVisionTower load_clip_vision(const std::string& folder) {
  ClipVisionTower tower(read_clip_vision_config((std::filesystem::path(folder) / "config.json").string()));
  load_parameters(*tower, SafetensorsFolder(folder));
  tower->eval();
  return tower;
}

ProjectorImpl::ProjectorImpl(std::int64_t vision_channels, std::int64_t llm_hidden) {
  first_ = register_module("0", torch::nn::Linear(vision_channels, llm_hidden));
  second_ = register_module("2", torch::nn::Linear(llm_hidden, llm_hidden));
}

torch::Tensor ProjectorImpl::forward(const torch::Tensor& features) {
  return second_(F::gelu(first_(features)));
}

}  // namespace acsweep::models
