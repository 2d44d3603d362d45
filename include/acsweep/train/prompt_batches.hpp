#pragma once
// What Stage 1 and Stage 2 share in walking their data: the prompts that fit the LLM's context
// next to the visual tokens (the rest counted), the seeded order of an epoch, and the number of
// trainable tokens of a global batch (the denominator of its token-mean loss).
#include <cstdint>
#include <utility>
#include <vector>

#include "acsweep/models/multimodal.hpp"

namespace acsweep::train {

// The context a stage trains in: the LLM's, or `max_length` where that is shorter (0: none).
std::size_t training_context(const models::LlamaForCausalLM& llm, std::int64_t max_length);

std::vector<const models::ImagePrompt*> prompts_within_context(
    const std::vector<models::ImagePrompt>& prompts, std::size_t visual_tokens, std::size_t context,
    std::size_t& too_long);

// A permutation of 0..n-1: Fisher-Yates from the stream derive_seed(seed, {epoch}).
std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, std::int64_t epoch);

// Data parallelism: rank `rank` of `ranks` takes the contiguous share [first, second) of the
// global batch [begin, end) (shares differ by one example at most; some may be empty).
std::pair<std::size_t, std::size_t> rank_share(std::size_t begin, std::size_t end, std::size_t rank,
                                               std::size_t ranks);

// Trainable tokens of prompts[order[i]] for i in [begin, end).
double trainable_tokens(const std::vector<const models::ImagePrompt*>& prompts,
                        const std::vector<std::size_t>& order, std::size_t begin, std::size_t end);

}  // namespace acsweep::train
