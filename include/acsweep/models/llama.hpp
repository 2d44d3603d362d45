#pragma once
// Llama-family decoder (Llama, Vicuna, Mistral, Qwen2/2.5) in LibTorch: RMSNorm, rotary position embedding
// with the config's theta, SwiGLU MLP, grouped-query attention with a causal mask, tied or untied
// head. Parameters carry Hugging Face's names, so checkpoints load by name. Inputs are embeddings,
// so visual tokens can be spliced in between text embeddings. Knows nothing of MPI.
#include <torch/torch.h>

#include <functional>
#include <string>

#include "acsweep/models/hf_config.hpp"

namespace acsweep::models {

// A linear layer, without bias as Llama's are, or with one (Qwen2's q, k and v). `initialise`:
// drawn as torch::nn::Linear draws its weight and bias (the same numbers from the same seed); off,
// they are left as allocated, for a loader to fill (at 7B, the random draws would take half a
// minute per rank).
class LlamaLinearImpl : public torch::nn::Module {
 public:
  LlamaLinearImpl(std::int64_t in, std::int64_t out, bool initialise = true, bool bias = false);
  torch::Tensor forward(const torch::Tensor& x) { return torch::linear(x, weight, bias); }
  torch::Tensor weight;
  torch::Tensor bias;  // undefined without one
};
TORCH_MODULE(LlamaLinear);

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(std::int64_t size, double eps);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::Tensor weight_;
  double eps_;
};
TORCH_MODULE(RMSNorm);

// The keys and values one decoder layer has computed for the tokens seen so far, rotary embedding
// applied: [B, H_kv, S, head_dim] each (undefined before the first token). Generation keeps one per
// layer (KVCache), so each new token costs one position's work instead of the whole sequence's.
struct LayerCache {
  torch::Tensor keys, values;
};
using KVCache = std::vector<LayerCache>;

class LlamaAttentionImpl : public torch::nn::Module {
 public:
  explicit LlamaAttentionImpl(const LlamaConfig& config, bool initialise = true);
  // x: [B, T, D]; cos, sin: [T, head_dim], or [B, 1, T, head_dim] (each row's own positions).
  // Without `allowed`: causal over T. With it: [B, 1, T, S] bool, S = the cache's length + T,
  // the cached keys first. With `cache`, this call's keys and values are appended to it.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& allowed = {}, LayerCache* cache = nullptr);

 private:
  LlamaConfig config_;
  LlamaLinear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, o_proj_{nullptr};
};
TORCH_MODULE(LlamaAttention);

class LlamaMLPImpl : public torch::nn::Module {
 public:
  explicit LlamaMLPImpl(const LlamaConfig& config, bool initialise = true);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  LlamaLinear gate_proj_{nullptr}, up_proj_{nullptr}, down_proj_{nullptr};
};
TORCH_MODULE(LlamaMLP);

class LlamaDecoderLayerImpl : public torch::nn::Module {
 public:
  explicit LlamaDecoderLayerImpl(const LlamaConfig& config, bool initialise = true);
  // As LlamaAttention::forward.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& allowed = {}, LayerCache* cache = nullptr);

 private:
  LlamaAttention self_attn_{nullptr};
  LlamaMLP mlp_{nullptr};
  RMSNorm input_layernorm_{nullptr}, post_attention_layernorm_{nullptr};
};
TORCH_MODULE(LlamaDecoderLayer);

// Holds "model.*" (embed_tokens, layers, norm) and "lm_head" unless the embeddings are tied.
class LlamaForCausalLMImpl : public torch::nn::Module {
 public:
  // Called on each part as soon as it is made, in order: the embeddings, every decoder layer, the
  // final norm, the head, each with the prefix of its parameters' names ("model.layers.3.").
  // load_llama fills and places each part there, so the model is never whole on the host. With
  // `made`, the weights are not drawn at random: `made` fills them.
  using PartMade = std::function<void(torch::nn::Module& part, const std::string& prefix)>;
  explicit LlamaForCausalLMImpl(const LlamaConfig& config, const PartMade& made = {});

  // [B, T] token ids -> [B, T, D] embeddings.
  torch::Tensor embed(const torch::Tensor& ids);
  // [B, T, D] embeddings -> [B, T, vocab] logits, causal over T: logits(hidden_states(x)).
  torch::Tensor forward(const torch::Tensor& embeddings);
  // [B, T, D] embeddings -> [B, T, D] last hidden states (after the final norm).
  torch::Tensor hidden_states(const torch::Tensor& embeddings);
  // Decoding (models/generate.hpp): `embeddings` [B, T, D] are each row's next T tokens, at
  // `positions` [B, T] (int64; a left-padded row's first real token is at 0), `allowed` [B, 1, T, S]
  // the keys each may attend to (S = the cache's length + T). With `cache` (one LayerCache per
  // layer, empty at the start), every layer's keys and values are appended to it. Never
  // through the layer call: no gradients are meant here.
  torch::Tensor hidden_states(const torch::Tensor& embeddings, const torch::Tensor& positions,
                              const torch::Tensor& allowed, KVCache* cache);
  // [..., D] hidden states -> [..., vocab] logits (the head, or the tied embeddings).
  torch::Tensor logits(const torch::Tensor& hidden);
  // The [vocab, D] weight logits() multiplies by: lm_head's, or the tied embeddings.
  torch::Tensor head_weight() const;
  const LlamaConfig& config() const { return config_; }
  const torch::nn::ModuleList& layers() const { return layers_; }  // the decoder layers, in order

  // How each decoder layer is run: `layer` is its module, `run` the layer as a function of its
  // input. Empty (the default): run(x). Training sets it from outside the model, e.g. to
  // recompute each layer in the backward pass (train/activation_checkpoint.hpp).
  using LayerCall = std::function<torch::Tensor(torch::nn::Module& layer,
                                                const std::function<torch::Tensor(const torch::Tensor&)>& run,
                                                const torch::Tensor& x)>;
  void set_layer_call(LayerCall call) { layer_call_ = std::move(call); }
  const LayerCall& layer_call() const { return layer_call_; }

 private:
  LlamaConfig config_;
  std::shared_ptr<torch::nn::Module> model_;
  torch::nn::Embedding embed_tokens_{nullptr};
  torch::nn::ModuleList layers_;
  RMSNorm norm_{nullptr};
  LlamaLinear lm_head_{nullptr};
  LayerCall layer_call_;
};
TORCH_MODULE(LlamaForCausalLM);

// Where and in which dtype a loaded model's weights live.
struct LoadTarget {
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
};

// Reads config.json and the safetensors weights of an HF folder into a model on `target`. The
// model is made a part at a time (embeddings, each decoder layer, norm, head), each filled from
// the memory-mapped weights and moved to the target before the next is made: beyond what ends on
// the host, the host holds at most one part in float32 (at 7B, one layer: 0.8 GB, not 27 GB).
LlamaForCausalLM load_llama(const std::string& folder, const LoadTarget& target = {});

// cos and sin of the rotary embedding for positions 0..length-1: [length, head_dim].
std::pair<torch::Tensor, torch::Tensor> rotary_tables(std::int64_t length, std::int64_t head_dim,
                                                      double theta);
// The same at given positions [B, T] (int64): [B, 1, T, head_dim] each, on the positions' device.
std::pair<torch::Tensor, torch::Tensor> rotary_at(const torch::Tensor& positions, std::int64_t head_dim,
                                                  double theta);

}  // namespace acsweep::models
