#pragma once
// Recompute in the backward pass: a block (a decoder layer, a chunk of the loss) runs forward
// without keeping its activations, only its input; the backward pass runs it again with
// gradients on, under the forward pass's autocast state, and differentiates that. The gradients
// are the plain run's, for one more forward pass of the block.
#include <torch/torch.h>

#include <functional>
#include <vector>

namespace acsweep::models {

// `block(input)`, its activations recomputed in the backward pass. `parameters` are the block's
// own: their gradients come from the recompute (each must be used by the block, or be frozen).
// Without grad mode, simply block(input). The block must be deterministic and must not keep
// `input` alive.
torch::Tensor recomputed(const std::function<torch::Tensor(const torch::Tensor&)>& block,
                         const torch::Tensor& input, const std::vector<torch::Tensor>& parameters);

}  // namespace acsweep::models
