#pragma once
// A benchmark put to a LLaVA model, in one of two ways (labelled in the results: [finetune] answers).
// generate (lmms-eval's protocol): the image and question in the vicuna_v1 template, the answer
// generated greedily until the EOS (models/generate.hpp), then parsed or scored by the benchmark's
// own rule (benchmarks.hpp, score_generated). likelihood (the fast path): each candidate answer ("A", "B",
// ... or "Yes", "No") scored by its total log-probability after the prompt, the most likely one chosen. With
// answers of one token this is the option letter of highest next-token probability.
#include <functional>
#include <optional>

#include "acsweep/eval/benchmarks.hpp"
#include "acsweep/models/llama.hpp"
#include "acsweep/models/projector.hpp"
#include "acsweep/models/tokenizer.hpp"
#include "acsweep/models/vision_representation.hpp"

namespace acsweep::eval {

// The chosen candidate of every item (an index into candidate_answers), in item order; kNotAsked
// for an item whose image does not decode or whose prompt is longer than the LLM's context, with
// why added to `left_out` (without it, InputError). The next items' images are decoded and
// preprocessed on `loader_threads` background threads (0: on this thread).
std::vector<std::size_t> choose_answers(
    const Benchmark& benchmark, models::LlamaForCausalLM& llm, models::Projector& projector,
    models::VisionRepresentation& representation, const models::Tokenizer& tokenizer,
    const std::function<void(std::size_t done)>& progress = {}, std::vector<std::string>* left_out = nullptr,
    std::size_t loader_threads = 0, data::ChatTemplate chat = data::ChatTemplate::vicuna_v1);

// How a benchmark's images are preprocessed: as the job says ([search] image_aspect_ratio), or
// never padded for the kinds of original_aspect (benchmarks.hpp).
models::VisionRepresentation::Aspect image_aspect(BenchmarkKind kind);

// The likelihood path's scores of an item's candidates from one pass over the question `asked`
// (its keys and values cached, each candidate's tokens scored after them): each candidate's total
// log-probability, as trainable_token_log_probs sums it over the whole prompt. Empty when a
// candidate's prompt does not start with the question's tokens (tokenization merged across the
// boundary) or carries the loss inside them: choose_answers then scores each whole prompt.
std::vector<double> shared_prompt_log_likelihoods(models::LlamaForCausalLM& llm,
                                                  const models::TokenizedPrompt& asked,
                                                  const std::vector<models::TokenizedPrompt>& prompts,
                                                  const torch::Tensor& visual);

struct GenerationSettings {
  std::int64_t max_new_tokens = 128;
  std::size_t batch = 8;           // items generated together, left-padded (models::generate_greedy)
  std::size_t loader_threads = 0;  // threads preparing the next batches' images (0: this thread)
  data::ChatTemplate chat = data::ChatTemplate::vicuna_v1;  // the prompt's conversation template
};

// Each item's generated answer, in item order: the text before the EOS (and before an
// "ASSISTANT:" turn, lmms-eval's stop string, should the model write one); std::nullopt for an item
// whose image does not decode or whose prompt is longer than the LLM's context, with why added to
// `left_out` (without it, InputError).
std::vector<std::optional<std::string>> generate_answers(
    const Benchmark& benchmark, models::LlamaForCausalLM& llm, models::Projector& projector,
    models::VisionRepresentation& representation, const models::Tokenizer& tokenizer,
    const GenerationSettings& settings, const std::function<void(std::size_t done)>& progress = {},
    std::vector<std::string>* left_out = nullptr);

}  // namespace acsweep::eval
