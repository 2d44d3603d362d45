#pragma once
// Recompute in the backward pass: a block (a decoder layer, a chunk of the loss) runs forward
// without keeping its activations, only its input; the backward pass runs it again with
// gradients on, under the forward pass's autocast state, and differentiates that. The gradients
// are the plain run's, for one more forward pass of the block.
#include <torch/torch.h>

#include <functional>
#include <vector>

namespace acsweep::models {

// Weights that are not whole on this rank between uses (train/sharded_adamw.hpp, shard level
// `parameters`): gathered before each run of the block, released after it, and the gradients of
// the whole weights turned into the gradient of `shard`, the autograd input that stands for them.
struct GatheredWeights {
  torch::Tensor shard;  // requires grad; its gradient is what reduce() returns
  std::function<void()> gather, release;
  std::function<torch::Tensor(const std::vector<torch::Tensor>& gradients)> reduce;
};

// `block(input)`, its activations recomputed in the backward pass. `parameters` are the block's
// own: their gradients come from the recompute (each must be used by the block, or be frozen).
// Without grad mode, simply block(input). The block must be deterministic and must not keep
// `input` alive. With `gathered`, the parameters are whole only while the block runs (forward
// and recompute), and their gradients reach gathered->shard through gathered->reduce.
torch::Tensor recomputed(const std::function<torch::Tensor(const torch::Tensor&)>& block,
                         const torch::Tensor& input, const std::vector<torch::Tensor>& parameters,
                         const GatheredWeights* gathered = nullptr);

}  // namespace acsweep::models
