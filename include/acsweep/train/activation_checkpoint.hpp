#pragma once
// Activation checkpointing per decoder layer ([stage2] activation_checkpointing), applied from
// outside the model as torchtitan applies it: each layer keeps only its input and is recomputed
// in the backward pass (models/recompute.hpp). Saved activations fall from every layer's to one
// layer's plus each layer's input, for one more forward pass per step; the gradients are the
// plain run's.
#include "acsweep/models/llama.hpp"

namespace acsweep::train {

// Every decoder layer of `llm` recomputed in the backward while this lives; the model's own way
// back after.
class LayerCheckpointing {
 public:
  LayerCheckpointing(models::LlamaForCausalLM llm, bool enabled);
  ~LayerCheckpointing();
  LayerCheckpointing(const LayerCheckpointing&) = delete;
  LayerCheckpointing& operator=(const LayerCheckpointing&) = delete;

 private:
  models::LlamaForCausalLM llm_;
  bool enabled_;
  models::LlamaForCausalLMImpl::LayerCall previous_;
};

}  // namespace acsweep::train
