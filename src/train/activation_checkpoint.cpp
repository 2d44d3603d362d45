#include "acsweep/train/activation_checkpoint.hpp"

#include <stdexcept>
#include <unordered_map>
#include <utility>

#include "acsweep/models/recompute.hpp"
#include "acsweep/train/sharded_adamw.hpp"

namespace acsweep::train {

LayerCheckpointing::LayerCheckpointing(models::LlamaForCausalLM llm, bool enabled, ShardedAdamW* gathered)
    : llm_(std::move(llm)), enabled_(enabled || gathered) {
  if (!enabled_) return;
  previous_ = llm_->layer_call();
  if (!gathered) {
    llm_->set_layer_call(
        [](torch::nn::Module& layer, const std::function<torch::Tensor(const torch::Tensor&)>& run,
           const torch::Tensor& x) { return models::recomputed(run, x, layer.parameters()); });
    return;
  }
  // A layer is known by its first parameter (the same tensor however often its data is swapped).
  std::unordered_map<const c10::TensorImpl*, std::size_t> unit_of;
  const auto& layers = *llm_->layers();
  if (gathered->units() != layers.size())
    throw std::invalid_argument("LayerCheckpointing: " + std::to_string(gathered->units()) + " units for " +
                                std::to_string(layers.size()) + " decoder layers");
  std::size_t next = 0;
  for (const auto& layer : layers) unit_of[layer->parameters().front().unsafeGetTensorImpl()] = next++;
  llm_->set_layer_call([gathered, unit_of](torch::nn::Module& layer,
                                           const std::function<torch::Tensor(const torch::Tensor&)>& run,
                                           const torch::Tensor& x) {
    const auto parameters = layer.parameters();
    const std::size_t u = unit_of.at(parameters.front().unsafeGetTensorImpl());
    const models::GatheredWeights weights{gathered->unit_master(u),
                                          [gathered, u] { gathered->gather_unit(u); },
                                          [gathered, u] { gathered->release_unit(u); },
                                          [gathered, u](const std::vector<torch::Tensor>& gradients) {
                                            return gathered->reduce_unit(u, gradients);
                                          }};
    return models::recomputed(run, x, parameters, &weights);
  });
}

LayerCheckpointing::~LayerCheckpointing() {
  if (enabled_) llm_->set_layer_call(std::move(previous_));
}

std::vector<std::vector<std::size_t>> decoder_layer_units(
    const models::LlamaForCausalLM& llm, const std::vector<std::pair<std::string, torch::Tensor>>& named) {
  std::unordered_map<const c10::TensorImpl*, std::size_t> index;
  for (std::size_t i = 0; i < named.size(); ++i) index[named[i].second.unsafeGetTensorImpl()] = i;
  std::vector<std::vector<std::size_t>> units;
  for (const auto& layer : *llm->layers()) {
    std::vector<std::size_t> unit;
    for (const auto& p : layer->parameters()) {
      const auto found = index.find(p.unsafeGetTensorImpl());
      if (found == index.end())
        throw std::invalid_argument("shard level parameters: a decoder layer's parameter is not trained");
      unit.push_back(found->second);
    }
    units.push_back(std::move(unit));
  }
  return units;
}

}  // namespace acsweep::train
