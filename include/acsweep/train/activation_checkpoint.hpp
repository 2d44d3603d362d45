#pragma once
// Activation checkpointing per decoder layer ([stage2] activation_checkpointing), applied from
// outside the model as torchtitan applies it: each layer keeps only its input and is recomputed
// in the backward pass (models/recompute.hpp). Saved activations fall from every layer's to one
// layer's plus each layer's input, for one more forward pass per step; the gradients are the
// plain run's.
//
// The same wrapping carries shard level `parameters` (train/sharded_adamw.hpp): each layer's
// weights are gathered from the group just before the layer runs and released after it, gathered
// again for its recompute in the backward pass, and its gradients reduce-scattered into the shard
// there. Only one layer's weights are whole at a time.
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "acsweep/models/llama.hpp"

namespace acsweep::train {

class ShardedAdamW;

// Every decoder layer of `llm` recomputed in the backward while this lives; the model's own way
// back after. With `gathered` (its units: decoder_layer_units), each layer's weights are whole
// only while it runs.
class LayerCheckpointing {
 public:
  LayerCheckpointing(models::LlamaForCausalLM llm, bool enabled, ShardedAdamW* gathered = nullptr);
  ~LayerCheckpointing();
  LayerCheckpointing(const LayerCheckpointing&) = delete;
  LayerCheckpointing& operator=(const LayerCheckpointing&) = delete;

 private:
  models::LlamaForCausalLM llm_;
  bool enabled_;
  models::LlamaForCausalLMImpl::LayerCall previous_;
};

// Each decoder layer's parameters as indices into `named` (which must hold all of them), one unit
// per layer in order: what ShardedAdamW gathers at shard level parameters.
std::vector<std::vector<std::size_t>> decoder_layer_units(
    const models::LlamaForCausalLM& llm, const std::vector<std::pair<std::string, torch::Tensor>>& named);

}  // namespace acsweep::train
