#pragma once
// bf16 autocast for the training forward passes (the LLaVA recipe trains in bf16 on GPUs): inside
// a scope, matrix products run in bfloat16 while the weights, the optimizer state and the
// reductions (softmax, log-probabilities, the loss) stay float32, as torch.autocast does. On CUDA
// for speed; on a CPU it works too (slowly), which is how it is tested here.
#include <torch/torch.h>

namespace acsweep::train {

class Bf16Autocast {
 public:
  // Does nothing unless `enabled`.
  Bf16Autocast(const torch::Device& device, bool enabled);
  ~Bf16Autocast();
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  bool active_ = false, cuda_ = false, was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kFloat;
};

}  // namespace acsweep::train
