#include "acsweep/eval/evaluate.hpp"

#include "acsweep/data/image.hpp"
#include "acsweep/data/llava.hpp"
#include "acsweep/error.hpp"
#include "acsweep/models/multimodal.hpp"

namespace acsweep::eval {

std::vector<std::size_t> choose_answers(const Benchmark& benchmark, models::LlamaForCausalLM& llm,
                                        models::Projector& projector,
                                        models::VisionRepresentation& representation,
                                        const models::Tokenizer& tokenizer,
                                        const std::function<void(std::size_t)>& progress,
                                        std::vector<std::string>* left_out) {
  torch::NoGradGuard frozen;
  std::vector<std::size_t> chosen;
  for (const auto& item : benchmark.items) {
    data::LlavaExample example{
        item.id,
        item.image,
        {{"human", std::string(data::kImageToken) + "\n" + question_prompt(benchmark, item)}}};
    const auto question = data::vicuna_v1_template(example);
    std::vector<models::TokenizedPrompt> prompts;
    for (const auto& answer : candidate_answers(benchmark, item)) {
      auto pieces = question;
      pieces.push_back({data::PromptPiece::Kind::Text, " " + answer, true});
      prompts.push_back(models::tokenize_prompt(tokenizer, pieces));
    }
    std::vector<const models::TokenizedPrompt*> batch;
    for (const auto& p : prompts) batch.push_back(&p);
    std::vector<data::Image> image;
    try {
      image.push_back(data::decode_image(item.image));
    } catch (const InputError& e) {
      if (!left_out) throw;
      left_out->push_back(e.what());
      chosen.push_back(kNotAsked);
      if (progress) progress(chosen.size());
      continue;
    }
    const auto visual = projector->forward(models::visual_tokens(representation, image));
    std::vector<std::int64_t> counts;
    const auto log_probs =
        models::trainable_token_log_probs(
            llm, batch, visual.expand({static_cast<std::int64_t>(batch.size()), -1, -1}), counts)
            .to(torch::kCPU);
    std::size_t best = 0;
    double best_value = -1e300;
    std::int64_t start = 0;
    for (std::size_t k = 0; k < counts.size(); ++k) {
      const double total = log_probs.slice(0, start, start + counts[k]).sum().item<double>();
      start += counts[k];
      if (total > best_value) {  // ties go to the earlier candidate
        best_value = total;
        best = k;
      }
    }
    chosen.push_back(best);
    if (progress) progress(chosen.size());
  }
  return chosen;
}

}  // namespace acsweep::eval
