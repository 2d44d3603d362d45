#pragma once
// Stage-2-shaped prompts of random tokens for the training benchmarks: `text` tokens each, one
// image after the first, the loss on the last 3/4 of the text.
#include <cstdint>
#include <vector>

#include "acsweep/models/multimodal.hpp"

inline std::vector<acsweep::models::TokenizedPrompt> random_prompts(std::int64_t count, std::int64_t text,
                                                                    std::int64_t vocab) {
  std::vector<acsweep::models::TokenizedPrompt> prompts(static_cast<std::size_t>(count));
  for (auto& p : prompts) {
    const auto ids = torch::randint(0, vocab, {text});
    p.ids.assign(ids.data_ptr<std::int64_t>(), ids.data_ptr<std::int64_t>() + text);
    p.trainable.assign(static_cast<std::size_t>(text), false);
    for (std::int64_t i = text / 4; i < text; ++i) p.trainable[static_cast<std::size_t>(i)] = true;
    p.image_positions = {1};
  }
  return prompts;
}
