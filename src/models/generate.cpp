#include "acsweep/models/generate.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "acsweep/error.hpp"

namespace acsweep::models {

torch::Tensor decoding_mask(const torch::Tensor& real, std::int64_t T) {
  const auto S = real.size(1);
  const auto options = torch::TensorOptions().dtype(torch::kInt64).device(real.device());
  const auto query = torch::arange(S - T, S, options).view({T, 1});  // each query's place among the keys
  const auto key = torch::arange(S, options).view({1, S});
  const auto causal = (key <= query).view({1, 1, T, S});
  const auto self = (key == query).view({1, 1, T, S});
  return (real.view({real.size(0), 1, 1, S}) & causal) | self;
}

std::vector<std::vector<std::int64_t>> generate_greedy(LlamaForCausalLM& llm,
                                                       const std::vector<torch::Tensor>& prompts,
                                                       const GenerationOptions& options) {
  torch::NoGradGuard no_grad;
  const auto B = static_cast<std::int64_t>(prompts.size());
  std::vector<std::vector<std::int64_t>> out(prompts.size());
  if (B == 0 || options.max_new_tokens <= 0) return out;
  const auto context = llm->config().max_position_embeddings;
  std::int64_t P = 0;
  for (const auto& p : prompts) {
    if (p.dim() != 2 || p.size(1) != prompts[0].size(1) || p.size(0) == 0)
      throw std::invalid_argument("generate_greedy: each prompt must be [T, D] embeddings with T > 0");
    if (p.size(0) > context)
      throw InputError("prompt of " + std::to_string(p.size(0)) +
                       " tokens is longer than the LLM's context of " + std::to_string(context));
    P = std::max(P, p.size(0));
  }
  const auto device = prompts[0].device();
  auto embeddings = torch::zeros({B, P, prompts[0].size(1)}, prompts[0].options());
  auto real = torch::zeros({B, P}, torch::TensorOptions().dtype(torch::kBool).device(device));
  for (std::int64_t b = 0; b < B; ++b) {
    const auto T = prompts[static_cast<std::size_t>(b)].size(0);
    embeddings[b].slice(0, P - T).copy_(prompts[static_cast<std::size_t>(b)]);
    real[b].slice(0, P - T).fill_(true);
  }
  // transformers' positions for a left-padded batch: the count of real tokens before, padding at 0.
  auto positions = (real.to(torch::kInt64).cumsum(1) - 1).clamp_min(0);

  KVCache cache;
  KVCache* kept = options.use_cache ? &cache : nullptr;
  auto hidden = llm->hidden_states(embeddings, positions, decoding_mask(real, P), kept);
  std::vector<bool> finished(prompts.size(), false);
  std::int64_t remaining = B;
  for (std::int64_t step = 0;; ++step) {
    const auto next = llm->logits(hidden.select(1, -1)).argmax(-1);  // [B]
    const auto chosen = next.to(torch::kCPU);
    const auto* ids = chosen.data_ptr<std::int64_t>();
    for (std::size_t b = 0; b < out.size(); ++b) {
      if (finished[b]) continue;
      const auto id = ids[b];
      const bool stop_token =
          std::find(options.stop_tokens.begin(), options.stop_tokens.end(), id) != options.stop_tokens.end();
      if (!stop_token) out[b].push_back(id);
      if (stop_token || (options.stop && options.stop(out[b])) ||
          static_cast<std::int64_t>(out[b].size()) >= options.max_new_tokens) {
        finished[b] = true;
        --remaining;
      }
    }
    if (remaining == 0 || real.size(1) >= context) break;
    // Every row takes its token, finished or not: rows never see each other, so a finished row's
    // tokens change nothing, and the batch keeps its shape.
    const auto new_embeddings = llm->embed(next.unsqueeze(1));
    const auto new_positions = positions.select(1, -1).unsqueeze(1) + 1;
    real = torch::cat({real, torch::ones({B, 1}, real.options())}, 1);
    positions = torch::cat({positions, new_positions}, 1);
    if (options.use_cache) {
      hidden = llm->hidden_states(new_embeddings, new_positions, decoding_mask(real, 1), &cache);
    } else {
      embeddings = torch::cat({embeddings, new_embeddings}, 1);
      hidden = llm->hidden_states(embeddings, positions, decoding_mask(real, real.size(1)), nullptr);
    }
  }
  return out;
}

}  // namespace acsweep::models
