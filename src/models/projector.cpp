#include "acsweep/models/projector.hpp"

#include "acsweep/models/linear.hpp"

namespace acsweep::models {

ProjectorImpl::ProjectorImpl(std::int64_t vision_channels, std::int64_t llm_hidden) {
  first_ = register_module("0", torch::nn::Linear(vision_channels, llm_hidden));
  second_ = register_module("2", torch::nn::Linear(llm_hidden, llm_hidden));
}

torch::Tensor ProjectorImpl::forward(const torch::Tensor& features) {
  return linear(second_, torch::gelu(linear(first_, features)));
}

}  // namespace acsweep::models
