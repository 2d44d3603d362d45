#include "acsweep/train/memory_plan.hpp"

#include <algorithm>

#include "acsweep/train/sharded_adamw.hpp"

namespace acsweep::train {
namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Per token of one decoder layer, what autograd keeps for the backward pass. `weights_train`:
// the linear layers' inputs are kept only where their weights get gradients (Stage 2).
std::int64_t saved_per_token(const models::LlamaConfig& c, bool bf16, bool weights_train) {
  const std::int64_t h = c.hidden_size, i = c.intermediate_size, q = c.num_attention_heads * c.head_dim,
                     kv = c.num_key_value_heads * c.head_dim;
  // Both RMSNorms keep their float32 input and normalised value (the residual stream is float32).
  const std::int64_t norms = 2 * (2 * h) * 4;
  // RoPE keeps q, k and their rotated halves; fused attention keeps q, k, v and its output.
  const std::int64_t e = bf16 ? 2 : 4;
  const std::int64_t rope = (2 * q + 2 * kv) * e, attention = (2 * q + 2 * kv) * e;
  // SwiGLU: the gate's output, silu of it, the up projection, and their product.
  const std::int64_t mlp = (weights_train ? 4 : 3) * i * e;
  // The inputs of q, k, v, o, gate and up (under autocast each projection casts its own copy).
  const std::int64_t inputs = weights_train ? (bf16 ? (5 * h + q) * 2 : (2 * h + q) * 4) : 0;
  return norms + rope + attention + mlp + inputs;
}

}  // namespace

std::int64_t MemoryPlan::total() const {
  std::int64_t sum = 0;
  for (const auto& [name, bytes] : parts) sum += bytes;
  return sum;
}

std::int64_t llama_layer_parameters(const models::LlamaConfig& c) {
  const std::int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim,
                     kv = c.num_key_value_heads * c.head_dim;
  return h * q + 2 * h * kv + q * h + 3 * h * c.intermediate_size + 2 * h;
}

std::int64_t llama_parameters(const models::LlamaConfig& c) {
  const std::int64_t h = c.hidden_size;
  return c.num_hidden_layers * llama_layer_parameters(c) + h +
         c.vocab_size * h * (c.tie_word_embeddings ? 1 : 2);
}

std::int64_t projector_parameters(std::int64_t vision_channels, std::int64_t llm_hidden) {
  return vision_channels * llm_hidden + llm_hidden + llm_hidden * llm_hidden + llm_hidden;
}

std::int64_t layer_activation_bytes_per_token(const models::LlamaConfig& config, bool bf16) {
  return saved_per_token(config, bf16, true);
}

MemoryPlan plan_training(const models::LlamaConfig& llm, const TrainingShape& s, ShardLevel level) {
  const std::int64_t n_llm = llama_parameters(llm);
  const std::int64_t projector = projector_parameters(s.vision_channels, llm.hidden_size);
  const std::int64_t trainable = projector + (s.train_llm ? n_llm : 0);
  const bool sharded = s.train_llm && level != ShardLevel::none;
  // At `parameters` the decoder layers' weights are whole one layer at a time (the one running),
  // in one of two layer-sized buffers: the other holds the next layer, prefetched.
  const bool gathered = s.train_llm && level == ShardLevel::parameters;
  const std::int64_t w = sharded ? std::max<std::int64_t>(1, s.group) : 1;
  const std::int64_t shard = ceil_div(trainable, w);
  const std::int64_t h = llm.hidden_size;
  const std::int64_t one_layer = llama_layer_parameters(llm);
  const std::int64_t outside_layers = n_llm - llm.num_hidden_layers * one_layer;  // embeddings, norm, head
  // Stage 2 in bf16: the LLM and the projector hold bf16 weights (and gradients).
  const std::int64_t wb = s.train_llm ? s.weight_bytes : 4;
  MemoryPlan plan;
  plan.parts.emplace_back("weights",
                          wb * (gathered ? outside_layers + 2 * one_layer + projector : n_llm + projector));
  // The largest gradient bucket in flight: a parameter above bucket_bytes is a bucket of its own,
  // and at `parameters` each layer is one.
  const std::int64_t largest = 4 * std::max(llm.vocab_size * h, h * llm.intermediate_size);
  const std::int64_t bucket = std::max({s.bucket_bytes, largest, gathered ? 4 * one_layer : 0});
  if (!sharded) {
    plan.parts.emplace_back("gradients", 4 * trainable);
    plan.parts.emplace_back("optimizer", 8 * trainable);
  } else {
    // The gradient shard; at `optimizer` the full gradient buckets too (in the weights' dtype); at
    // `parameters` the running layer's whole gradients.
    plan.parts.emplace_back("gradients", 4 * shard + (level == ShardLevel::optimizer ? wb * trainable : 0) +
                                             (gathered ? wb * one_layer : 0));
    plan.parts.emplace_back("optimizer", 8 * shard);
    plan.parts.emplace_back("master", 4 * shard);
  }
  // Reduce-scatter and all-gather of one bucket at a time: its full copy and its part; at
  // `gradients` and `parameters` also the gradients the backward made and has not reduced yet
  // (one bucket); at `optimizer` in bf16, the bucket widened to float32.
  const bool per_bucket = level == ShardLevel::gradients || gathered;
  plan.parts.emplace_back("communication", sharded
                                               ? bucket + ceil_div(bucket, w) + (per_bucket ? bucket : 0) +
                                                     (level == ShardLevel::optimizer && wb == 2 ? bucket : 0)
                                               : 0);
  // Autocast caches the bf16 copy of every float32 weight that trains for the whole forward pass
  // (at `parameters` it caches none: only the running layer's casts live); frozen weights' copies
  // are kept by autograd for the backward, except under activation checkpointing, where only the
  // layer being recomputed has them.
  const bool recomputed = s.activation_checkpointing || gathered;
  if (s.bf16 && wb == 4)
    plan.parts.emplace_back("bf16 weight copies",
                            2 * (gathered || (!s.train_llm && recomputed) ? one_layer : n_llm));
  const std::int64_t tokens = s.micro_batch * s.sequence;
  const std::int64_t layer = saved_per_token(llm, s.bf16, s.train_llm);
  // Recomputed: every layer's input (the residual stream: float32, or bf16 where the embeddings
  // are), and the layer being recomputed with the gradients its backward makes (about as large
  // again).
  const std::int64_t saved = recomputed ? llm.num_hidden_layers * wb * h * tokens + 2 * layer * tokens
                                        : llm.num_hidden_layers * layer * tokens;
  // Besides the layers: the input embeddings and the final norm, and the loss's chunk of logits
  // (models/multimodal.hpp: 64 MiB chunks), recomputed in the backward pass: the logits, their
  // log-softmax, its gradient and the logits' gradient.
  const std::int64_t head = 3 * 4 * h * tokens + 4 * (std::int64_t{64} << 20);
  // The projector keeps its input, its hidden layer before and after GELU, per visual token.
  const std::int64_t visual = s.micro_batch * s.visual_tokens * (s.vision_channels + 2 * h) * 4;
  plan.parts.emplace_back("activations", saved + head + visual);
  // AdamW's step makes two temporaries the size of the tensor it updates (the largest parameter,
  // or the largest shard of a bucket).
  plan.parts.emplace_back("optimizer step",
                          2 * (sharded ? ceil_div(bucket, w) : (s.train_llm ? largest : 4 * projector)));
  plan.parts.emplace_back("encoders", s.encoder_bytes);
  return plan;
}

}  // namespace acsweep::train
