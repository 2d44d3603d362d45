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
  // RoPE multiplies by the cos and sin tables, which take no gradient: it keeps only them, not q
  // or k. Fused attention keeps q, k, v and its output.
  const std::int64_t e = bf16 ? 2 : 4;
  const std::int64_t attention = (2 * q + 2 * kv) * e;
  // SwiGLU: the gate's output, silu of it, the up projection, and their product.
  const std::int64_t mlp = (weights_train ? 4 : 3) * i * e;
  // The inputs of q, k, v, o, gate and up (under autocast each projection casts its own copy).
  const std::int64_t inputs = weights_train ? (bf16 ? (5 * h + q) * 2 : (2 * h + q) * 4) : 0;
  return norms + attention + mlp + inputs;
}

}  // namespace

const char* when_name(When when) {
  switch (when) {
    case When::step:
      return "step";
    case When::encode:
      return "encode";
    case When::pass:
      return "pass";
    case When::loss:
      return "loss";
    case When::backward:
      return "backward";
    case When::reduction:
      return "reduction";
    case When::update:
      return "update";
  }
  return "?";
}

std::int64_t MemoryPlan::held(When when) const {
  std::int64_t sum = 0;
  for (const auto& part : parts)
    if (part.when == when) sum += part.bytes;
  return sum;
}

std::int64_t MemoryPlan::total() const {
  return held(When::step) +
         std::max({held(When::encode), held(When::pass) + std::max(held(When::loss), held(When::backward)),
                   held(When::reduction), held(When::update)});
}

std::int64_t llama_layer_parameters(const models::LlamaConfig& c) {
  const std::int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim,
                     kv = c.num_key_value_heads * c.head_dim;
  const std::int64_t biases = (c.qkv_bias ? q + 2 * kv : 0) + (c.o_bias ? h : 0);
  return h * q + 2 * h * kv + q * h + 3 * h * c.intermediate_size + 2 * h + biases;
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
  const auto add = [&plan](std::string name, std::int64_t bytes, When when) {
    plan.parts.push_back({std::move(name), bytes, when});
  };
  add("weights", wb * (gathered ? outside_layers + 2 * one_layer + projector : n_llm + projector),
      When::step);
  // The largest parameter (a parameter above bucket_bytes is a bucket of its own), and the largest
  // gradient bucket: at `parameters` each layer is one.
  const std::int64_t largest = s.train_llm ? std::max(llm.vocab_size * h, h * llm.intermediate_size)
                                           : std::max(s.vision_channels * h, h * h);
  const std::int64_t bucket = std::max({s.bucket_bytes, 4 * largest, gathered ? 4 * one_layer : 0});
  if (!sharded) {
    add("gradients", 4 * trainable, When::step);
    add("optimizer", 8 * trainable, When::step);
  } else {
    // The gradient shard; at `optimizer` the full gradient buckets too (in the weights' dtype); at
    // `parameters` the running layer's whole gradients.
    add("gradients",
        4 * shard + (level == ShardLevel::optimizer ? wb * trainable : 0) + (gathered ? wb * one_layer : 0),
        When::step);
    add("optimizer", 8 * shard, When::step);
    add("master", 4 * shard, When::step);
  }
  add("encoders", s.encoder_bytes, When::step);
  add("encoder pass", s.encoder_pass_bytes, When::encode);
  // Autocast caches the bf16 copy of every float32 weight that trains for the whole forward pass
  // (at `parameters` it caches none: only the running layer's casts live); frozen weights' copies
  // are kept by autograd for the backward, except under activation checkpointing, where only the
  // layer being recomputed has them.
  const bool recomputed = s.activation_checkpointing || gathered;
  if (s.bf16 && wb == 4)
    add("bf16 weight copies", 2 * (gathered || (!s.train_llm && recomputed) ? one_layer : n_llm), When::pass);
  const std::int64_t tokens = s.micro_batch * s.sequence;
  const std::int64_t layer = saved_per_token(llm, s.bf16, s.train_llm);
  // Recomputed: every layer's input (the residual stream: float32, or bf16 where the embeddings
  // are), and the layer being recomputed with the gradients its backward makes (about as large
  // again).
  const std::int64_t saved = recomputed ? llm.num_hidden_layers * wb * h * tokens + 2 * layer * tokens
                                        : llm.num_hidden_layers * layer * tokens;
  // Besides the layers: the input embeddings and the final norm; the projector keeps its input, its
  // hidden layer before and after GELU, per visual token.
  const std::int64_t visual = s.micro_batch * s.visual_tokens * (s.vision_channels + 2 * h) * 4;
  add("activations", saved + 3 * 4 * h * tokens + visual, When::pass);
  // The loss's chunk of logits (models/multimodal.hpp: at most 64 MiB of float32, over the text
  // positions only), recomputed in the backward: its log-softmax, that one's gradient and the
  // logits' gradient (under autocast also the logits' bf16 gradient).
  const std::int64_t text_rows = std::max<std::int64_t>(1, s.micro_batch * (s.sequence - s.visual_tokens));
  const std::int64_t chunk =
      4 * llm.vocab_size *
      std::min(text_rows, std::max<std::int64_t>(1, (std::int64_t{64} << 20) / (4 * llm.vocab_size)));
  add("loss chunk", 3 * chunk + (s.bf16 ? chunk / 2 : 0), When::loss);
  // In the backward, the largest parameter's gradient as autograd makes it (beside the one already
  // held, or before its bucket takes it), made from the logits' gradient where the largest is the head.
  const bool head_largest = s.train_llm && llm.vocab_size >= llm.intermediate_size;
  add("gradient in flight", wb * largest + (head_largest ? chunk : 0), When::backward);
  // Reduce-scatter of one bucket at a time, at `gradients` and `parameters` in the backward: the
  // bucket's full float32 copy and its part. At `optimizer` it reduces the held full gradients after
  // the pass (in bf16, widened to float32 one bucket at a time).
  const bool per_bucket = level == ShardLevel::gradients || gathered;
  if (sharded && per_bucket) add("communication", bucket + ceil_div(bucket, w), When::backward);
  if (sharded && level == ShardLevel::optimizer && wb == 2) add("communication", bucket, When::reduction);
  // AdamW's step makes two temporaries the size of the tensor it updates (the largest parameter,
  // or the largest shard of a bucket).
  add("optimizer step", 2 * (sharded ? ceil_div(bucket, w) : 4 * (s.train_llm ? largest : projector)),
      When::update);
  return plan;
}

}  // namespace acsweep::train
