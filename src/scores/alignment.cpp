#include "acsweep/scores/alignment.hpp"

#include <stdexcept>

#include "acsweep/error.hpp"

namespace acsweep::scores {

torch::Tensor splice_visual_tokens(models::LlamaForCausalLM& llm, const models::TokenizedPrompt& prompt,
                                   const torch::Tensor& visual) {
  if (prompt.image_positions.size() != 1)
    throw std::invalid_argument("splice_visual_tokens: the prompt must hold exactly one image");
  const auto at = static_cast<std::int64_t>(prompt.image_positions[0]);
  const auto ids = torch::tensor(prompt.ids, torch::kInt64).unsqueeze(0);
  const auto text = llm->embed(ids);  // [1, T, D]
  return torch::cat({text.slice(1, 0, at), visual.to(text.dtype()).unsqueeze(0), text.slice(1, at)}, 1);
}

double caption_log_likelihood(models::LlamaForCausalLM& llm, const models::TokenizedPrompt& prompt,
                              const torch::Tensor& visual) {
  const auto embeddings = splice_visual_tokens(llm, prompt, visual);
  const auto length = embeddings.size(1);
  if (length > llm->config().max_position_embeddings)
    throw InputError("prompt of " + std::to_string(length) + " tokens (with " +
                     std::to_string(visual.size(0)) + " visual tokens) is longer than the LLM's context of " +
                     std::to_string(llm->config().max_position_embeddings));
  const auto log_probs = torch::log_softmax(llm->forward(embeddings).squeeze(0).to(torch::kFloat64), -1);
  const std::size_t image = prompt.image_positions[0];
  const auto visual_length = static_cast<std::size_t>(visual.size(0));
  double sum = 0.0;
  std::size_t count = 0;
  for (std::size_t i = 0; i < prompt.ids.size(); ++i) {
    if (!prompt.trainable[i]) continue;
    const std::size_t position = i < image ? i : i + visual_length;  // where token i sits after splicing
    if (position == 0) throw std::invalid_argument("caption_log_likelihood: the first token has no context");
    sum += log_probs[static_cast<long>(position - 1)][prompt.ids[i]].item<double>();
    ++count;
  }
  if (count == 0) throw std::invalid_argument("caption_log_likelihood: the prompt has no caption tokens");
  return sum / static_cast<double>(count);
}

}  // namespace acsweep::scores
