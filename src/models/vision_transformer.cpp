#include "acsweep/models/vision_transformer.hpp"

#include <cmath>
#include <stdexcept>

#include "acsweep/models/attention.hpp"
#include "acsweep/models/linear.hpp"
#include "acsweep/models/torch_weights.hpp"

namespace acsweep::models {

torch::Tensor vision_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               std::int64_t heads, bool causal) {
  const auto B = q.size(0), T = q.size(1), D = q.size(2), d = D / heads;
  const auto split = [&](const torch::Tensor& t) { return t.view({B, T, heads, d}).transpose(1, 2); };
  return attention(split(q), split(k), split(v), causal).transpose(1, 2).reshape({B, T, D});
}

std::int64_t hidden_state_index(int layer, std::int64_t layers, const char* family) {
  const auto index = layer < 0 ? layers + 1 + layer : layer;
  if (index < 0 || index > layers)
    throw std::invalid_argument(std::string(family) + ": layer " + std::to_string(layer) +
                                " outside the tower's " + std::to_string(layers));
  return index;
}

namespace {

torch::Tensor activation(const torch::Tensor& x, const std::string& name) {
  if (name == "quick_gelu") return x * torch::sigmoid(1.702 * x);
  return torch::gelu(x, name == "gelu_pytorch_tanh" ? "tanh" : "none");
}

const char* family_name(VisionFamily f) {
  switch (f) {
    case VisionFamily::clip:
      return "CLIP";
    case VisionFamily::siglip:
      return "SigLIP";
    case VisionFamily::siglip2:
      return "SigLIP2";
    case VisionFamily::dinov2:
      return "DINOv2";
  }
  return "?";
}

torch::nn::LayerNorm layer_norm(const VisionTowerConfig& c) {
  return torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps));
}

}  // namespace

VisionEncoderLayerImpl::VisionEncoderLayerImpl(const VisionTowerConfig& config) : config_(config) {
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
  layer_norm1_ = register_module("layer_norm1", layer_norm(config));
  layer_norm2_ = register_module("layer_norm2", layer_norm(config));
}

torch::Tensor VisionEncoderLayerImpl::forward(const torch::Tensor& x, bool causal) {
  const auto h = layer_norm1_(x);
  const auto y =
      x + linear(out_proj_, vision_attention(linear(q_proj_, h), linear(k_proj_, h), linear(v_proj_, h),
                                             config_.num_attention_heads, causal));
  return y + linear(fc2_, activation(linear(fc1_, layer_norm2_(y)), config_.hidden_act));
}

VisionTransformerImpl::VisionTransformerImpl(const VisionTowerConfig& config) : config_(config) {
  if (config.family == VisionFamily::dinov2) throw std::invalid_argument("DINOv2 is the Dinov2 module");
  const auto D = config.hidden_size, P = config.patch_size;
  vision_model_ = register_module("vision_model", std::make_shared<torch::nn::Module>());
  embeddings_ = vision_model_->register_module("embeddings", std::make_shared<torch::nn::Module>());
  std::int64_t positions =
      config.family == VisionFamily::siglip2 ? config.num_patches : config.grid() * config.grid();
  if (config.family == VisionFamily::clip) {
    class_embedding_ = embeddings_->register_parameter("class_embedding", torch::zeros({D}));
    positions += 1;
  }
  if (config.family == VisionFamily::siglip2) {
    patch_linear_ = embeddings_->register_module("patch_embedding", torch::nn::Linear(3 * P * P, D));
  } else {
    patch_conv_ = embeddings_->register_module(
        "patch_embedding", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, D, P).stride(P).bias(
                               config.family != VisionFamily::clip)));
  }
  position_embedding_ =
      embeddings_->register_module("position_embedding", torch::nn::Embedding(positions, D));
  if (config.family == VisionFamily::clip)
    pre_layrnorm_ = vision_model_->register_module("pre_layrnorm", layer_norm(config));
  encoder_ = vision_model_->register_module("encoder", std::make_shared<torch::nn::Module>());
  layers_ = encoder_->register_module("layers", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < config.num_hidden_layers; ++i) layers_->push_back(VisionEncoderLayer(config));
}

void VisionTransformerImpl::load(const SafetensorsFolder& weights) {
  const bool prefixed = weights.contains("vision_model.embeddings.patch_embedding.weight") ||
                        !weights.contains("embeddings.patch_embedding.weight");
  if (prefixed)
    load_parameters(*this, weights);  // a missing weight is named with its vision_model. prefix
  else
    load_parameters(body(), weights);
}

torch::Tensor VisionTransformerImpl::positions(std::int64_t grid_h, std::int64_t grid_w) const {
  const auto& table = position_embedding_->weight;
  const auto D = config_.hidden_size;
  const auto patch_table = table.slice(0, prefix_tokens());
  const auto side =
      static_cast<std::int64_t>(std::lround(std::sqrt(static_cast<double>(patch_table.size(0)))));
  if (config_.family != VisionFamily::siglip2 && grid_h == side && grid_w == side) return patch_table;
  const auto square = patch_table.reshape({1, side, side, D}).permute({0, 3, 1, 2});
  // SigLIP2 resizes its table bilinearly with antialiasing for every input; CLIP and SigLIP
  // interpolate bicubically (as transformers' interpolate_pos_encoding) only for other sizes.
  const auto resized = config_.family == VisionFamily::siglip2
                           ? at::_upsample_bilinear2d_aa(square, {grid_h, grid_w}, false)
                           : torch::upsample_bicubic2d(square, {grid_h, grid_w}, false);
  return resized.permute({0, 2, 3, 1}).reshape({grid_h * grid_w, D});
}

torch::Tensor VisionTransformerImpl::hidden_states(const torch::Tensor& pixels, int layer) {
  const auto last = hidden_state_index(layer, config_.num_hidden_layers, family_name(config_.family));
  const auto B = pixels.size(0), P = config_.patch_size;
  const auto gh = pixels.size(2) / P, gw = pixels.size(3) / P;
  torch::Tensor x;
  if (patch_linear_) {  // SigLIP2's processor flattens each patch as (row, column, channel)
    x = linear(
        patch_linear_,
        pixels.reshape({B, 3, gh, P, gw, P}).permute({0, 2, 4, 3, 5, 1}).reshape({B, gh * gw, P * P * 3}));
  } else {
    x = patch_conv_(pixels).flatten(2).transpose(1, 2);  // [B, gh*gw, D]
  }
  x = x + positions(gh, gw).unsqueeze(0);
  if (config_.family == VisionFamily::clip) {
    const auto cls = class_embedding_ + position_embedding_->weight[0];
    x = pre_layrnorm_(torch::cat({cls.expand({B, 1, -1}), x}, 1));
  }
  for (std::int64_t i = 0; i < last; ++i)
    x = layers_[static_cast<std::size_t>(i)]->as<VisionEncoderLayer>()->forward(x);
  return x;
}

Dinov2LayerImpl::Dinov2LayerImpl(const VisionTowerConfig& config) : config_(config) {
  const auto D = config.hidden_size;
  norm1_ = register_module("norm1", layer_norm(config));
  norm2_ = register_module("norm2", layer_norm(config));
  auto attention = register_module("attention", std::make_shared<torch::nn::Module>());
  auto inner = attention->register_module("attention", std::make_shared<torch::nn::Module>());
  query_ = inner->register_module("query", torch::nn::Linear(D, D));
  key_ = inner->register_module("key", torch::nn::Linear(D, D));
  value_ = inner->register_module("value", torch::nn::Linear(D, D));
  auto output = attention->register_module("output", std::make_shared<torch::nn::Module>());
  dense_ = output->register_module("dense", torch::nn::Linear(D, D));
  auto mlp = register_module("mlp", std::make_shared<torch::nn::Module>());
  fc1_ = mlp->register_module("fc1", torch::nn::Linear(D, config.intermediate_size));
  fc2_ = mlp->register_module("fc2", torch::nn::Linear(config.intermediate_size, D));
  lambda1_ = register_module("layer_scale1", std::make_shared<torch::nn::Module>())
                 ->register_parameter("lambda1", torch::ones({D}));
  lambda2_ = register_module("layer_scale2", std::make_shared<torch::nn::Module>())
                 ->register_parameter("lambda1", torch::ones({D}));
}

torch::Tensor Dinov2LayerImpl::forward(const torch::Tensor& x) {
  const auto h = norm1_(x);
  const auto y =
      x + lambda1_ * linear(dense_, vision_attention(linear(query_, h), linear(key_, h), linear(value_, h),
                                                     config_.num_attention_heads));
  return y + lambda2_ * linear(fc2_, activation(linear(fc1_, norm2_(y)), config_.hidden_act));
}

void Dinov2Impl::load(const SafetensorsFolder& weights) { load_parameters(*this, weights); }

Dinov2Impl::Dinov2Impl(const VisionTowerConfig& config) : config_(config) {
  const auto D = config.hidden_size, P = config.patch_size;
  embeddings_ = register_module("embeddings", std::make_shared<torch::nn::Module>());
  cls_token_ = embeddings_->register_parameter("cls_token", torch::zeros({1, 1, D}));
  if (config.num_register_tokens > 0)
    register_tokens_ =
        embeddings_->register_parameter("register_tokens", torch::zeros({1, config.num_register_tokens, D}));
  position_embeddings_ = embeddings_->register_parameter(
      "position_embeddings", torch::zeros({1, config.grid() * config.grid() + 1, D}));
  auto patch_embeddings =
      embeddings_->register_module("patch_embeddings", std::make_shared<torch::nn::Module>());
  projection_ = patch_embeddings->register_module(
      "projection", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, D, P).stride(P)));
  encoder_ = register_module("encoder", std::make_shared<torch::nn::Module>());
  layers_ = encoder_->register_module("layer", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < config.num_hidden_layers; ++i) layers_->push_back(Dinov2Layer(config));
}

torch::Tensor Dinov2Impl::hidden_states(const torch::Tensor& pixels, int layer) {
  const auto last = hidden_state_index(layer, config_.num_hidden_layers, "DINOv2");
  const auto B = pixels.size(0), D = config_.hidden_size;
  const auto gh = pixels.size(2) / config_.patch_size, gw = pixels.size(3) / config_.patch_size;
  const auto patches = projection_(pixels).flatten(2).transpose(1, 2);
  auto patch_positions = position_embeddings_.slice(1, 1);
  const auto side = config_.grid();
  if (gh != side || gw != side) {
    // As transformers' interpolate_pos_encoding: plain bicubic for DINOv2, antialiased bicubic for
    // DINOv2 with registers (its Dinov2WithRegisters model passes antialias=True).
    const auto square = patch_positions.reshape({1, side, side, D}).permute({0, 3, 1, 2});
    const auto grid = register_tokens_.defined() ? at::_upsample_bicubic2d_aa(square, {gh, gw}, false)
                                                 : torch::upsample_bicubic2d(square, {gh, gw}, false);
    patch_positions = grid.permute({0, 2, 3, 1}).reshape({1, gh * gw, D});
  }
  auto x = torch::cat(
      {cls_token_.expand({B, 1, D}) + position_embeddings_.slice(1, 0, 1), patches + patch_positions}, 1);
  if (register_tokens_.defined())
    x = torch::cat({x.slice(1, 0, 1), register_tokens_.expand({B, -1, D}), x.slice(1, 1)}, 1);
  for (std::int64_t i = 0; i < last; ++i)
    x = layers_[static_cast<std::size_t>(i)]->as<Dinov2Layer>()->forward(x);
  return x;
}

}  // namespace acsweep::models
