#pragma once
// The LLaVA forward pass over a batch of prompts: each prompt's text embeddings with its visual
// tokens spliced in at the image's place, right-padded into one [B, T, D] batch (a causal model
// never looks right, so padding needs no mask), and the log-probability of each trainable token
// given everything before it. Stage-1 training and the A score both stand on this.
#include <torch/torch.h>

#include <set>
#include <string>
#include <vector>

#include "acsweep/models/llama.hpp"
#include "acsweep/models/tokenizer.hpp"
#include "acsweep/models/vision_representation.hpp"

namespace acsweep::models {

// An image with its tokenized prompt: a caption (plain template, Stage 1) or a conversation
// (vicuna_v1, Stage 2).
struct ImagePrompt {
  std::string id;
  std::string image;  // absolute path
  TokenizedPrompt prompt;
};

// Image-caption items of a LLaVA JSON file (the caption: the first answer), with the plain template.
// Items without an image are left out.
std::vector<ImagePrompt> plain_captions(const Tokenizer& tokenizer, const data::LlavaDataset& dataset);

// Conversations of a LLaVA JSON file in the conversation template `chat` (the loss on the answers), as
// LLaVA trains them: "<image>" first in its turn (data::image_first); text-only conversations kept
// (`image` empty: no visual tokens), as is an item whose text never shows its image. Items showing
// more than one image, or "<image>" without an image, are left out and counted in `left_out`.
std::vector<ImagePrompt> chat_conversations(const Tokenizer& tokenizer, const data::LlavaDataset& dataset,
                                            data::ChatTemplate chat, std::size_t& left_out);

// Visual tokens of image files: [B, L, C], the representation's [B, C, gh, gw] grid in row-major
// cell order, computed without gradients (the encoders are frozen).
torch::Tensor visual_tokens(VisionRepresentation& representation, const std::vector<std::string>& images);
torch::Tensor visual_tokens(VisionRepresentation& representation, const std::vector<data::Image>& images,
                            VisionRepresentation::Aspect aspect = VisionRepresentation::Aspect::configured);
torch::Tensor visual_tokens(VisionRepresentation& representation,
                            const VisionRepresentation::Prepared& prepared);

// A training micro-batch's images, as the data loader prepares them: each decoded and
// preprocessed for the representation; one that does not decode becomes a black image, `usable`
// false, and why goes to `left_out`. An empty path (a text-only conversation) becomes a black
// stand-in, usable: its prompt never shows it. The batch keeps its shape and its token count, so
// every rank of a data-parallel group goes on alike without being told (training_weights).
// Runs on the CPU alone: safe on the loader's threads.
struct TrainingImages {
  VisionRepresentation::Prepared prepared;
  std::vector<bool> usable;
  std::set<std::string> left_out;
};
TrainingImages prepare_for_training(const VisionRepresentation& representation,
                                    const std::vector<std::string>& paths);

// `log_probs` of trainable_token_log_probs (per prompt, `counts` tokens each) with the tokens of
// the prompts whose image was not usable set to 0: their captions are left out of the loss.
torch::Tensor without_unusable(const torch::Tensor& log_probs, const std::vector<std::int64_t>& counts,
                               const std::vector<bool>& usable);

// Tokens the prompt takes once `visual_tokens` are spliced in.
std::size_t spliced_length(const TokenizedPrompt& prompt, std::size_t visual_tokens);

// The prompt's embeddings [T + n L, D] with `visual` spliced in at its images: [L, D] for a prompt
// of one image, or [n, L, D] for n (0 included), the k-th at the prompt's k-th image.
torch::Tensor spliced_embeddings(LlamaForCausalLM& llm, const TokenizedPrompt& prompt,
                                 const torch::Tensor& visual);

// visual: [B, L, D] (B = prompts.size()), each prompt holding one image, or none (a text-only
// conversation: its row of `visual` is left out). Returns the
// log-probabilities of every trainable token, example after example ([sum of counts]), and fills
// counts[b] with example b's number. std::invalid_argument when a prompt has no image or no
// trainable token; InputError when one is longer than the LLM's context. The head runs only on
// the positions that predict a trainable token, `chunk_rows` of them at a time (0: as many as fit
// 64 MiB of float32 logits), each chunk recomputed in the backward: no [B, T, vocab] tensor.
torch::Tensor trainable_token_log_probs(LlamaForCausalLM& llm,
                                        const std::vector<const TokenizedPrompt*>& prompts,
                                        const torch::Tensor& visual, std::vector<std::int64_t>& counts,
                                        std::int64_t chunk_rows = 0);

}  // namespace acsweep::models
