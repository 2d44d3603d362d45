#pragma once
// The A score's measurement (shared/spec/LAW.md, "A score", step 2): with everything frozen,
//   A(I, y) = (1/T) * sum_t log P(y_t | f(I), y_<t)
// over the caption's T tokens, where f(I) are the projected visual tokens spliced into the
// prompt at the image's place. Stage-1 training of the projector comes with the training issue.
#include <torch/torch.h>

#include "acsweep/models/llama.hpp"
#include "acsweep/models/tokenizer.hpp"

namespace acsweep::scores {

// Embeddings of `prompt` with `visual` ([L, D]) inserted at its image position: [1, T + L, D].
torch::Tensor splice_visual_tokens(models::LlamaForCausalLM& llm, const models::TokenizedPrompt& prompt,
                                   const torch::Tensor& visual);

// Mean log-likelihood of the prompt's trainable tokens (the caption) given everything before
// each of them. Throws std::invalid_argument when the prompt has no trainable token or not
// exactly one image, and InputError when it is longer than the LLM's context.
double caption_log_likelihood(models::LlamaForCausalLM& llm, const models::TokenizedPrompt& prompt,
                              const torch::Tensor& visual);

}  // namespace acsweep::scores
