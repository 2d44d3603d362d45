#pragma once
// A benchmark put to a LLaVA model: each item's image and question in the vicuna_v1 template,
// each candidate answer ("A", "B", ... or "Yes", "No") scored by its total log-probability after
// the prompt, the most likely one chosen. With answers of one token this is the option letter of
// highest next-token probability.
#include <functional>

#include "acsweep/eval/benchmarks.hpp"
#include "acsweep/models/llama.hpp"
#include "acsweep/models/projector.hpp"
#include "acsweep/models/tokenizer.hpp"
#include "acsweep/models/vision_representation.hpp"

namespace acsweep::eval {

// The chosen candidate of every item (an index into candidate_answers), in item order; kNotAsked
// for an item whose image does not decode, with why added to `left_out`.
std::vector<std::size_t> choose_answers(const Benchmark& benchmark, models::LlamaForCausalLM& llm,
                                        models::Projector& projector,
                                        models::VisionRepresentation& representation,
                                        const models::Tokenizer& tokenizer,
                                        const std::function<void(std::size_t done)>& progress = {},
                                        std::vector<std::string>* left_out = nullptr);

}  // namespace acsweep::eval
