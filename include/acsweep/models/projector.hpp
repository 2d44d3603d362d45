#pragma once
// LLaVA's projector: Linear(c, d) -> GELU -> Linear(d, d), named model.mm_projector.{0,2}.
#include <torch/torch.h>

namespace acsweep::models {

class ProjectorImpl : public torch::nn::Module {
 public:
  ProjectorImpl(std::int64_t vision_channels, std::int64_t llm_hidden);
  torch::Tensor forward(const torch::Tensor& features);

 private:
  torch::nn::Linear first_{nullptr}, second_{nullptr};
};
TORCH_MODULE(Projector);

}  // namespace acsweep::models
