#pragma once
// The bytes a training rank holds at its peak, planned from the models' sizes alone (config.json
// and preprocessor_config.json: no weights are read), before any work starts:
//  - model state: float32 (or bf16) weights and gradients, float32 AdamW moments, each full or 1/W
//    as the shard level says (train/sharded_adamw.hpp), and the float32 master shard a sharded
//    rank keeps; and the frozen vision encoders;
//  - the bf16 copies of float32 weights that autocast makes for the forward pass;
//  - saved activations at the micro-batch and the longest sequence (maximum length), counted from
//    what the decoder layer's autograd graph keeps per token (models/llama.cpp, fused attention:
//    no [T, T] scores); with activation checkpointing, each layer's input plus one layer recomputed;
//  - the loss's chunk of logits, the largest gradient as the backward makes and reduces it, and the
//    communication buffers of a gradient bucket; AdamW's temporaries.
//  - before the pass, the frozen vision encoders' forward on the micro-batch's images (no graph).
// Each part is held at some time of the step (When), and the peak is the state plus the largest of
// what is alive together: the encoders' forward, the pass's activations with the loss chunk or with
// the largest gradient in flight, or, after the pass, the full gradients' reduction or AdamW's step.
// Pure arithmetic; checked against measured peaks of tensor bytes in bench/train_shard.sh.
#include <cstdint>
#include <string>
#include <vector>

#include "acsweep/models/hf_config.hpp"

namespace acsweep::train {

enum class ShardLevel;

// When a part of the plan is alive.
enum class When {
  step,       // throughout the step: the model state
  encode,     // before the pass: the frozen vision encoders' forward
  pass,       // the forward and backward pass: saved activations, autocast's weight copies
  loss,       // in the pass, the loss head's chunk of logits
  backward,   // in the backward, the largest gradient made and reduced (not with the loss chunk)
  reduction,  // after the pass: the full gradients reduced to their shards (shard level optimizer)
  update,     // after the pass: AdamW's step
};
const char* when_name(When when);

struct MemoryPart {
  std::string name;
  std::int64_t bytes = 0;  // per rank
  When when = When::step;
};

struct MemoryPlan {
  std::vector<MemoryPart> parts;
  std::int64_t held(When when) const;  // the sum of the parts of that time
  // The peak: the state, plus the pass with the larger of its moments, or the larger moment after it.
  std::int64_t total() const;
};

struct TrainingShape {
  std::int64_t micro_batch = 1;
  std::int64_t sequence = 1;            // tokens per example, visual ones included (the maximum length)
  std::int64_t group = 1;               // ranks the training state is sharded over
  std::int64_t vision_channels = 0;     // the representation's (the projector's input)
  std::int64_t visual_tokens = 0;       // per image (0: not known)
  std::int64_t encoder_bytes = 0;       // the frozen vision encoders' weights
  std::int64_t encoder_pass_bytes = 0;  // the encoders' forward on the micro-batch at its peak
  bool train_llm = true;                // Stage 2; Stage 1 trains the projector only
  bool bf16 = false;                    // autocast
  std::int64_t weight_bytes = 4;        // per trained weight: 4 (float32) or 2 (bf16 over float32 masters)
  bool activation_checkpointing = false;
  std::int64_t bucket_bytes = 25 << 20;
};

// The decoder's parameters as LlamaForCausalLM registers them, and one decoder layer's.
std::int64_t llama_parameters(const models::LlamaConfig& config);
std::int64_t llama_layer_parameters(const models::LlamaConfig& config);
// The projector's (models/projector.hpp: two linear layers with biases).
std::int64_t projector_parameters(std::int64_t vision_channels, std::int64_t llm_hidden);

// Saved activation bytes of one decoder layer per token (float32, or under bf16 autocast).
std::int64_t layer_activation_bytes_per_token(const models::LlamaConfig& config, bool bf16);

MemoryPlan plan_training(const models::LlamaConfig& llm, const TrainingShape& shape, ShardLevel level);

}  // namespace acsweep::train
