#pragma once
// Greedy decoding, the protocol lmms-eval's LLaVA wrapper evaluates with (temperature 0, one
// beam): each row's next token is the arg-max of its logits (ties to the lowest id, as
// torch.argmax), until it produces a stop token (the EOS), a stop condition holds, or
// max_new_tokens. Rows of different lengths are left-padded into one batch: the padding is masked
// out of every attention and each row's positions start at 0 at its first real token, so a row
// decodes as it would alone. With the KV cache each new token runs one position through the
// model; without it every step reruns the whole sequence (the reference the cache is tested
// against).
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "acsweep/models/llama.hpp"

namespace acsweep::models {

struct GenerationOptions {
  std::int64_t max_new_tokens = 128;
  // A row ends when it produces one of these; the token is not part of its output.
  std::vector<std::int64_t> stop_tokens;
  // A row also ends when this holds of its tokens so far (e.g. their text holds a stop string).
  std::function<bool(const std::vector<std::int64_t>& tokens)> stop;
  bool use_cache = true;
};

// `prompts`: each row's prompt as embeddings [T_i, D] (text and visual tokens spliced), on the
// model's device and in its dtype. Returns each row's generated tokens, stop token excluded.
// InputError when a prompt is longer than the model's context; generation ends at the context.
std::vector<std::vector<std::int64_t>> generate_greedy(LlamaForCausalLM& llm,
                                                       const std::vector<torch::Tensor>& prompts,
                                                       const GenerationOptions& options);

// Which keys each of the last T queries may attend to, for rows whose real tokens are marked in
// `real` [B, S] (bool): a real key at or before the query, and the query itself (a padding query
// would otherwise have none). [B, 1, T, S] bool.
torch::Tensor decoding_mask(const torch::Tensor& real, std::int64_t T);

}  // namespace acsweep::models
