#include "acsweep/scores/alignment.hpp"

#include "acsweep/models/multimodal.hpp"

namespace acsweep::scores {

std::vector<double> caption_log_likelihoods(models::LlamaForCausalLM& llm,
                                            const std::vector<const models::TokenizedPrompt*>& prompts,
                                            const torch::Tensor& visual) {
  std::vector<std::int64_t> counts;
  const auto log_probs = models::trainable_token_log_probs(llm, prompts, visual, counts).to(torch::kCPU);
  std::vector<double> means;
  std::int64_t start = 0;
  for (const auto count : counts) {
    means.push_back(log_probs.slice(0, start, start + count).to(torch::kFloat64).mean().item<double>());
    start += count;
  }
  return means;
}

double caption_log_likelihood(models::LlamaForCausalLM& llm, const models::TokenizedPrompt& prompt,
                              const torch::Tensor& visual) {
  return caption_log_likelihoods(llm, {&prompt}, visual.unsqueeze(0)).front();
}

std::vector<double> score_alignment(models::LlamaForCausalLM& llm,
                                    models::VisionRepresentation& representation,
                                    models::Projector& projector,
                                    const std::vector<models::ImagePrompt>& heldout, std::size_t batch) {
  torch::NoGradGuard frozen;
  std::vector<double> out;
  for (std::size_t begin = 0; begin < heldout.size(); begin += batch) {
    std::vector<std::string> images;
    std::vector<const models::TokenizedPrompt*> prompts;
    for (std::size_t i = begin; i < std::min(heldout.size(), begin + batch); ++i) {
      images.push_back(heldout[i].image);
      prompts.push_back(&heldout[i].prompt);
    }
    const auto values = caption_log_likelihoods(
        llm, prompts, projector->forward(models::visual_tokens(representation, images)));
    out.insert(out.end(), values.begin(), values.end());
  }
  return out;
}

double alignment_similarity(const torch::Tensor& tokens, const torch::Tensor& reference) {
  const auto unit = [](const torch::Tensor& m) {
    const auto x = m.to(torch::kFloat32);
    return x / x.norm(2, {1}, true).clamp_min(1e-12);
  };
  return torch::matmul(unit(tokens), unit(reference).t()).amax(1).mean().item<double>();
}

}  // namespace acsweep::scores
