#pragma once
// The A score's measurement (shared/spec/LAW.md, "A score", step 2): with everything frozen,
//   A(I, y) = (1/T) * sum_t log P(y_t | f(I), y_<t)
// over the caption's T tokens, where f(I) are the projected visual tokens spliced into the
// prompt at the image's place. Stage-1 training of the projector is in train/stage1.hpp.
//
// Also the variant of the paper's released code, reported beside it under its own name
// (A_similarity): the mean over a setting's projected tokens of their best cosine similarity to
// a reference setting's projected tokens of the same image.
#include <torch/torch.h>

#include <vector>

#include "acsweep/models/llama.hpp"
#include "acsweep/models/multimodal.hpp"
#include "acsweep/models/projector.hpp"
#include "acsweep/models/tokenizer.hpp"

namespace acsweep::scores {

// Mean log-likelihood of the prompt's trainable tokens (the caption) given everything before
// each of them; visual: [L, D]. Throws std::invalid_argument when the prompt has no trainable
// token or not exactly one image, and InputError when it is longer than the LLM's context.
double caption_log_likelihood(models::LlamaForCausalLM& llm, const models::TokenizedPrompt& prompt,
                              const torch::Tensor& visual);

// The same for a batch: visual [B, L, D]; one mean per prompt.
std::vector<double> caption_log_likelihoods(models::LlamaForCausalLM& llm,
                                            const std::vector<const models::TokenizedPrompt*>& prompts,
                                            const torch::Tensor& visual);

// A(I, y) of each held-out pair, `batch` at a time (everything frozen, no gradients). The A score
// is their mean. With `left_out`, a pair whose image does not decode gets NaN and why is added
// there; without, it is an InputError. The next batches' images are decoded and preprocessed on
// `loader_threads` background threads (0: on this thread).
std::vector<double> score_alignment(models::LlamaForCausalLM& llm,
                                    models::VisionRepresentation& representation,
                                    models::Projector& projector,
                                    const std::vector<models::ImagePrompt>& heldout, std::size_t batch,
                                    std::vector<std::string>* left_out = nullptr,
                                    std::size_t loader_threads = 0);

// mean_i max_j cos(tokens_i, reference_j) for tokens [L, D] and reference [L', D].
double alignment_similarity(const torch::Tensor& tokens, const torch::Tensor& reference);

}  // namespace acsweep::scores
