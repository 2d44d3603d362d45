#pragma once
// AdamW with decoupled weight decay, as torch.optim.AdamW computes it, with its state in the
// open (first and second moments, step count) so that checkpoints hold it exactly.
#include <torch/torch.h>

#include <vector>

namespace acsweep::train {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

class AdamW {
 public:
  AdamW(std::vector<torch::Tensor> parameters, AdamWOptions options = {});
  void step(double learning_rate);  // from each parameter's .grad()

  std::int64_t steps() const { return steps_; }
  const std::vector<torch::Tensor>& parameters() const { return parameters_; }
  std::vector<torch::Tensor>& first_moments() { return m_; }
  std::vector<torch::Tensor>& second_moments() { return v_; }
  void set_steps(std::int64_t steps) { steps_ = steps; }

 private:
  std::vector<torch::Tensor> parameters_, m_, v_;
  AdamWOptions options_;
  std::int64_t steps_ = 0;
};

}  // namespace acsweep::train
