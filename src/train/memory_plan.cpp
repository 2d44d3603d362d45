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

std::int64_t llama_parameters(const models::LlamaConfig& c) {
  const std::int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim,
                     kv = c.num_key_value_heads * c.head_dim;
  const std::int64_t layer = h * q + 2 * h * kv + q * h + 3 * h * c.intermediate_size + 2 * h;
  return c.num_hidden_layers * layer + h + c.vocab_size * h * (c.tie_word_embeddings ? 1 : 2);
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
  const std::int64_t w = sharded ? std::max<std::int64_t>(1, s.group) : 1;
  const std::int64_t shard = ceil_div(trainable, w);
  MemoryPlan plan;
  plan.parts.emplace_back("weights", 4 * (n_llm + projector));
  // The largest gradient bucket in flight: a parameter above bucket_bytes is a bucket of its own.
  const std::int64_t largest =
      4 * std::max(llm.vocab_size * llm.hidden_size, llm.hidden_size * llm.intermediate_size);
  const std::int64_t bucket = std::max(s.bucket_bytes, largest);
  if (!sharded) {
    plan.parts.emplace_back("gradients", 4 * trainable);
    plan.parts.emplace_back("optimizer", 8 * trainable);
  } else {
    // The gradient shard, and at `optimizer` the full gradient buckets too.
    plan.parts.emplace_back("gradients", 4 * shard + (level == ShardLevel::optimizer ? 4 * trainable : 0));
    plan.parts.emplace_back("optimizer", 8 * shard);
    plan.parts.emplace_back("master", 4 * shard);
  }
  // Reduce-scatter and all-gather of one bucket at a time: its full copy and its part; at
  // `gradients` also the gradients the backward made and has not reduced yet (one bucket).
  plan.parts.emplace_back(
      "communication",
      sharded ? bucket + ceil_div(bucket, w) + (level == ShardLevel::gradients ? bucket : 0) : 0);
  // Autocast caches the bf16 copy of every weight that trains for the whole forward pass; frozen
  // weights' copies are kept by autograd for the backward, except under activation checkpointing,
  // where only the layer being recomputed has them.
  if (s.bf16) {
    const std::int64_t one_layer =
        (n_llm - 2 * llm.vocab_size * llm.hidden_size) / std::max<std::int64_t>(1, llm.num_hidden_layers);
    plan.parts.emplace_back(
        "bf16 weight copies",
        2 * (s.train_llm || !s.activation_checkpointing ? n_llm : std::max<std::int64_t>(one_layer, 0)));
  }
  const std::int64_t tokens = s.micro_batch * s.sequence;
  const std::int64_t layer = saved_per_token(llm, s.bf16, s.train_llm);
  // With checkpointing: every layer's float32 input, and the layer being recomputed with the
  // gradients its backward makes (about as large again).
  const std::int64_t layers = s.activation_checkpointing
                                  ? llm.num_hidden_layers * 4 * llm.hidden_size * tokens + 2 * layer * tokens
                                  : llm.num_hidden_layers * layer * tokens;
  // Besides the layers: the input embeddings and the final norm, and the loss's chunk of logits
  // (models/multimodal.hpp: 64 MiB chunks), recomputed in the backward pass: the logits, their
  // log-softmax, its gradient and the logits' gradient.
  const std::int64_t head = 3 * 4 * llm.hidden_size * tokens + 4 * (std::int64_t{64} << 20);
  // The projector keeps its input, its hidden layer before and after GELU, per visual token.
  const std::int64_t visual = s.micro_batch * s.visual_tokens * (s.vision_channels + 2 * llm.hidden_size) * 4;
  plan.parts.emplace_back("activations", layers + head + visual);
  // AdamW's step makes two temporaries the size of the tensor it updates (the largest parameter,
  // or the largest shard of a bucket).
  plan.parts.emplace_back("optimizer step",
                          2 * (sharded ? ceil_div(bucket, w) : (s.train_llm ? largest : 4 * projector)));
  plan.parts.emplace_back("encoders", s.encoder_bytes);
  return plan;
}

}  // namespace acsweep::train
