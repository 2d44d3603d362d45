#include "acsweep/scores/alignment.hpp"

#include <algorithm>
#include <limits>

#include "acsweep/data/image.hpp"
#include "acsweep/data/prefetcher.hpp"
#include "acsweep/error.hpp"
#include "acsweep/models/multimodal.hpp"

namespace acsweep::scores {

std::vector<double> caption_log_likelihoods(models::LlamaForCausalLM& llm,
                                            const std::vector<const models::TokenizedPrompt*>& prompts,
                                            const torch::Tensor& visual) {
  for (const auto* p : prompts)  // a caption's likelihood given its image: no image, no A
    if (p->image_positions.size() != 1)
      throw std::invalid_argument("caption_log_likelihoods: a caption's prompt holds exactly one image");
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
                                    const std::vector<models::ImagePrompt>& heldout, std::size_t batch,
                                    std::vector<std::string>* left_out, std::size_t loader_threads) {
  torch::NoGradGuard frozen;
  std::vector<double> out(heldout.size(), std::numeric_limits<double>::quiet_NaN());
  // A batch's images as the loader prepares them: those that decode, where they sit in `heldout`,
  // and why the others did not.
  struct Batch {
    models::VisionRepresentation::Prepared prepared;
    std::vector<std::size_t> at;
    std::vector<std::string> bad;
  };
  data::Prefetcher<Batch> loader((heldout.size() + batch - 1) / batch,
                                 [&](std::size_t b) {
                                   Batch out_batch;
                                   std::vector<data::Image> images;
                                   for (std::size_t i = b * batch;
                                        i < std::min(heldout.size(), (b + 1) * batch); ++i) {
                                     try {
                                       images.push_back(data::decode_image(heldout[i].image));
                                       out_batch.at.push_back(i);
                                     } catch (const InputError& e) {
                                       out_batch.bad.push_back(e.what());
                                     }
                                   }
                                   if (!images.empty()) out_batch.prepared = representation.prepare(images);
                                   return out_batch;
                                 },
                                 loader_threads);
  for (std::size_t b = 0; b < loader.size(); ++b) {
    const Batch next = loader.next();
    if (!next.bad.empty() && !left_out) throw InputError(next.bad.front());
    if (left_out) left_out->insert(left_out->end(), next.bad.begin(), next.bad.end());
    if (next.at.empty()) continue;
    std::vector<const models::TokenizedPrompt*> prompts;
    for (const auto i : next.at) prompts.push_back(&heldout[i].prompt);
    const auto values = caption_log_likelihoods(
        llm, prompts, projector->forward(models::visual_tokens(representation, next.prepared)));
    for (std::size_t j = 0; j < next.at.size(); ++j) out[next.at[j]] = values[j];
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
