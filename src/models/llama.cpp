#include "acsweep/models/llama.hpp"

#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "acsweep/models/attention.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"

namespace F = torch::nn::functional;

namespace acsweep::models {
namespace {

// Hugging Face's convention: the two halves of each head's vector form the rotated pairs.
torch::Tensor rotate_half(const torch::Tensor& x) {
  const auto half = x.size(-1) / 2;
  return torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> rotary_tables(std::int64_t length, std::int64_t head_dim,
                                                      double theta) {
  const auto exponents = torch::arange(0, head_dim, 2, torch::kFloat64) / static_cast<double>(head_dim);
  const auto inv_freq = torch::pow(theta, -exponents);
  const auto angles = torch::outer(torch::arange(length, torch::kFloat64), inv_freq);
  const auto full = torch::cat({angles, angles}, -1);
  return {full.cos().to(torch::kFloat32), full.sin().to(torch::kFloat32)};
}

std::pair<torch::Tensor, torch::Tensor> rotary_at(const torch::Tensor& positions, std::int64_t head_dim,
                                                  double theta) {
  const auto flat = positions.reshape({-1}).to(torch::kCPU, torch::kInt64);
  const auto [cos, sin] =
      rotary_tables(flat.numel() == 0 ? 1 : flat.max().item<std::int64_t>() + 1, head_dim, theta);
  const auto at = [&](const torch::Tensor& table) {
    return table.index_select(0, flat)
        .view({positions.size(0), positions.size(1), head_dim})
        .unsqueeze(1)
        .to(positions.device());
  };
  return {at(cos), at(sin)};
}

LlamaLinearImpl::LlamaLinearImpl(std::int64_t in, std::int64_t out, bool initialise, bool with_bias) {
  weight = register_parameter("weight", torch::empty({out, in}));
  if (with_bias) bias = register_parameter("bias", torch::empty({out}));
  if (!initialise) return;
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));  // nn::Linear's draws
  if (with_bias)
    torch::nn::init::uniform_(bias, -1.0 / std::sqrt(static_cast<double>(in)),
                              1.0 / std::sqrt(static_cast<double>(in)));
}

RMSNormImpl::RMSNormImpl(std::int64_t size, double eps) : eps_(eps) {
  weight_ = register_parameter("weight", torch::ones({size}));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  const auto x32 = x.to(torch::kFloat32);
  const auto normed = x32 * torch::rsqrt(x32.pow(2).mean(-1, true) + eps_);
  return weight_ * normed.to(x.scalar_type());
}

LlamaAttentionImpl::LlamaAttentionImpl(const LlamaConfig& config, bool initialise) : config_(config) {
  const auto heads = config.num_attention_heads, kv = config.num_key_value_heads, d = config.head_dim;
  q_proj_ =
      register_module("q_proj", LlamaLinear(config.hidden_size, heads * d, initialise, config.qkv_bias));
  k_proj_ = register_module("k_proj", LlamaLinear(config.hidden_size, kv * d, initialise, config.qkv_bias));
  v_proj_ = register_module("v_proj", LlamaLinear(config.hidden_size, kv * d, initialise, config.qkv_bias));
  o_proj_ = register_module("o_proj", LlamaLinear(heads * d, config.hidden_size, initialise, config.o_bias));
}

torch::Tensor LlamaAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                          const torch::Tensor& sin, const torch::Tensor& allowed,
                                          LayerCache* cache) {
  const auto B = x.size(0), T = x.size(1);
  const auto heads = config_.num_attention_heads, kv = config_.num_key_value_heads, d = config_.head_dim;
  auto q = q_proj_(x).view({B, T, heads, d}).transpose(1, 2);  // [B, H, T, d]
  auto k = k_proj_(x).view({B, T, kv, d}).transpose(1, 2);
  auto v = v_proj_(x).view({B, T, kv, d}).transpose(1, 2);
  q = q * cos + rotate_half(q) * sin;
  k = k * cos + rotate_half(k) * sin;
  if (cache != nullptr) {
    if (cache->keys.defined()) {
      k = torch::cat({cache->keys, k}, 2);
      v = torch::cat({cache->values, v}, 2);
    }
    cache->keys = k;
    cache->values = v;
  }
  const auto attended = allowed.defined() ? attention(q, k, v, allowed) : attention(q, k, v, /*causal=*/true);
  return o_proj_(attended.transpose(1, 2).reshape({B, T, heads * d}));
}

LlamaMLPImpl::LlamaMLPImpl(const LlamaConfig& config, bool initialise) {
  gate_proj_ =
      register_module("gate_proj", LlamaLinear(config.hidden_size, config.intermediate_size, initialise));
  up_proj_ =
      register_module("up_proj", LlamaLinear(config.hidden_size, config.intermediate_size, initialise));
  down_proj_ =
      register_module("down_proj", LlamaLinear(config.intermediate_size, config.hidden_size, initialise));
}

torch::Tensor LlamaMLPImpl::forward(const torch::Tensor& x) {
  return down_proj_(F::silu(gate_proj_(x)) * up_proj_(x));
}

LlamaDecoderLayerImpl::LlamaDecoderLayerImpl(const LlamaConfig& config, bool initialise) {
  self_attn_ = register_module("self_attn", LlamaAttention(config, initialise));
  mlp_ = register_module("mlp", LlamaMLP(config, initialise));
  input_layernorm_ = register_module("input_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps));
  post_attention_layernorm_ =
      register_module("post_attention_layernorm", RMSNorm(config.hidden_size, config.rms_norm_eps));
}

torch::Tensor LlamaDecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos,
                                             const torch::Tensor& sin, const torch::Tensor& allowed,
                                             LayerCache* cache) {
  const auto h = x + self_attn_->forward(input_layernorm_(x), cos, sin, allowed, cache);
  return h + mlp_(post_attention_layernorm_(h));
}

LlamaForCausalLMImpl::LlamaForCausalLMImpl(const LlamaConfig& config, const PartMade& made)
    : config_(config) {
  const bool initialise = !made;
  const auto done = [&made](torch::nn::Module& part, const std::string& prefix) {
    if (made) made(part, prefix);
  };
  model_ = register_module("model", std::make_shared<torch::nn::Module>());
  auto embedding = torch::nn::EmbeddingOptions(config.vocab_size, config.hidden_size);
  if (!initialise) embedding._weight(torch::empty({config.vocab_size, config.hidden_size}));  // not drawn
  embed_tokens_ = model_->register_module("embed_tokens", torch::nn::Embedding(embedding));
  done(*embed_tokens_, "model.embed_tokens.");
  layers_ = model_->register_module("layers", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < config.num_hidden_layers; ++i) {
    layers_->push_back(LlamaDecoderLayer(config, initialise));
    done(*layers_[static_cast<std::size_t>(i)], "model.layers." + std::to_string(i) + ".");
  }
  norm_ = model_->register_module("norm", RMSNorm(config.hidden_size, config.rms_norm_eps));
  done(*norm_, "model.norm.");
  if (!config.tie_word_embeddings) {
    lm_head_ = register_module("lm_head", LlamaLinear(config.hidden_size, config.vocab_size, initialise));
    done(*lm_head_, "lm_head.");
  }
}

torch::Tensor LlamaForCausalLMImpl::embed(const torch::Tensor& ids) { return embed_tokens_(ids); }

torch::Tensor LlamaForCausalLMImpl::forward(const torch::Tensor& embeddings) {
  return logits(hidden_states(embeddings));
}

torch::Tensor LlamaForCausalLMImpl::hidden_states(const torch::Tensor& embeddings) {
  const auto [cos, sin] = rotary_tables(embeddings.size(1), config_.head_dim, config_.rope_theta);
  const auto device_cos = cos.to(embeddings.device()), device_sin = sin.to(embeddings.device());
  auto h = embeddings;
  for (const auto& module : *layers_) {
    auto* layer = module->as<LlamaDecoderLayer>();
    if (!layer_call_) {
      h = layer->forward(h, device_cos, device_sin);
      continue;
    }
    // By value: a wrapper may keep the function past this call (to run it again in the backward).
    const auto run = [layer, device_cos, device_sin](const torch::Tensor& x) {
      return layer->forward(x, device_cos, device_sin);
    };
    h = layer_call_(*layer, run, h);
  }
  return norm_(h);
}

torch::Tensor LlamaForCausalLMImpl::hidden_states(const torch::Tensor& embeddings,
                                                  const torch::Tensor& positions,
                                                  const torch::Tensor& allowed, KVCache* cache) {
  if (positions.dim() != 2 || positions.size(0) != embeddings.size(0) ||
      positions.size(1) != embeddings.size(1))
    throw std::invalid_argument("hidden_states: positions must be [B, T] as the embeddings are");
  if (cache != nullptr && cache->empty()) cache->resize(layers_->size());
  if (cache != nullptr && cache->size() != layers_->size())
    throw std::invalid_argument("hidden_states: the cache holds " + std::to_string(cache->size()) +
                                " layers, the model " + std::to_string(layers_->size()));
  auto [cos, sin] = rotary_at(positions.to(embeddings.device()), config_.head_dim, config_.rope_theta);
  cos = cos.to(embeddings.scalar_type());  // as transformers rotates: in the activations' dtype
  sin = sin.to(embeddings.scalar_type());
  auto h = embeddings;
  for (std::size_t i = 0; i < layers_->size(); ++i)
    h = layers_[i]->as<LlamaDecoderLayer>()->forward(h, cos, sin, allowed,
                                                     cache != nullptr ? &(*cache)[i] : nullptr);
  return norm_(h);
}

torch::Tensor LlamaForCausalLMImpl::logits(const torch::Tensor& hidden) {
  return F::linear(hidden, head_weight());
}

torch::Tensor LlamaForCausalLMImpl::head_weight() const {
  return config_.tie_word_embeddings ? embed_tokens_->weight : lm_head_->weight;
}

LlamaForCausalLM load_llama(const std::string& folder, const LoadTarget& target) {
  const LlamaConfig config = read_llama_config((std::filesystem::path(folder) / "config.json").string());
  const SafetensorsFolder weights(folder);
  LlamaForCausalLM model(config, [&](torch::nn::Module& part, const std::string& prefix) {
    load_parameters(part, weights, prefix);
    part.to(target.device, target.dtype);
  });
  model->eval();
  return model;
}

}  // namespace acsweep::models
