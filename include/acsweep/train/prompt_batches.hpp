#pragma once
// What Stage 1 and Stage 2 share in walking their data: the prompts fitted to the LLM's context
// next to the visual tokens (cut as LLaVA cuts them, counted), the seeded order of an epoch, and the number
// of trainable tokens of a global batch (the denominator of its token-mean loss).
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "acsweep/data/prefetcher.hpp"
#include "acsweep/models/multimodal.hpp"

namespace acsweep::train {

// The context a stage trains in: the LLM's, or `max_length` where that is shorter (0: none).
std::size_t training_context(const models::LlamaForCausalLM& llm, std::int64_t max_length);

// The prompts a stage trains on, fitted to its context as LLaVA fits them: one longer than the
// context once its visual tokens are in is cut to the context (LLaVA truncates every sequence at
// model_max_length, visual tokens included) and counted in `truncated`; one whose visual tokens
// would be cut, or that keeps no trainable token, is left out and counted in `too_long`.
struct FittedPrompts {
  std::vector<const models::ImagePrompt*> usable;  // into the stage's prompts, or into `cut`
  std::deque<models::ImagePrompt> cut;             // the truncated copies (a deque: stable addresses)
  std::size_t truncated = 0, too_long = 0;
};
FittedPrompts fit_to_context(const std::vector<models::ImagePrompt>& prompts, std::size_t visual_tokens,
                             std::size_t context);

// The bad-image rule of both stages: `bad`, the group's training images so far that did not
// decode (each rank's own, summed), may not exceed max_bad_fraction of the stage's `examples`; it
// only grows, so once past the allowance the task fails at once: InputError saying so, with this
// rank's first bad image (`mine`) where it has one. Every rank of a group sees the same sum and
// fails at the same step.
void check_bad_images(const char* stage, double bad, std::size_t examples, double max_bad_fraction,
                      const std::set<std::string>& mine);

// A permutation of 0..n-1: Fisher-Yates from the stream derive_seed(seed, {epoch}).
std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, std::int64_t epoch);

// Data parallelism: rank `rank` of `ranks` takes the contiguous share [first, second) of the
// global batch [begin, end) (shares differ by one example at most; some may be empty).
std::pair<std::size_t, std::size_t> rank_share(std::size_t begin, std::size_t end, std::size_t rank,
                                               std::size_t ranks);

// The training loop's data loader: the images of prompts[e] for e in *micro_batches[i], micro-batch
// i in training order, decoded and preprocessed by prepare_for_training on `threads` background
// threads, a few micro-batches ahead (0 threads: on the training thread as it asks). Same batches
// for any count. Every argument must outlive the loader.
using TrainingLoader = data::Prefetcher<models::TrainingImages>;
std::unique_ptr<TrainingLoader> training_loader(
    const models::VisionRepresentation& representation,
    const std::vector<const models::ImagePrompt*>& prompts,
    const std::vector<const std::vector<std::size_t>*>& micro_batches, std::size_t threads);

// Trainable tokens of prompts[order[i]] for i in [begin, end).
double trainable_tokens(const std::vector<const models::ImagePrompt*>& prompts,
                        const std::vector<std::size_t>& order, std::size_t begin, std::size_t end);

}  // namespace acsweep::train
