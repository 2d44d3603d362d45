#include "acsweep/train/activation_checkpoint.hpp"

#include <utility>

#include "acsweep/models/recompute.hpp"

namespace acsweep::train {

LayerCheckpointing::LayerCheckpointing(models::LlamaForCausalLM llm, bool enabled)
    : llm_(std::move(llm)), enabled_(enabled) {
  if (!enabled_) return;
  previous_ = llm_->layer_call();
  llm_->set_layer_call([](torch::nn::Module& layer,
                          const std::function<torch::Tensor(const torch::Tensor&)>& run,
                          const torch::Tensor& x) { return models::recomputed(run, x, layer.parameters()); });
}

LayerCheckpointing::~LayerCheckpointing() {
  if (enabled_) llm_->set_layer_call(std::move(previous_));
}

}  // namespace acsweep::train
