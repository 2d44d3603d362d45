#include "acsweep/train/stage1.hpp"

#include <chrono>
#include <numeric>
#include <stdexcept>

#include "acsweep/law/seeded_rng.hpp"
#include "acsweep/models/multimodal.hpp"
#include "acsweep/train/schedule.hpp"

namespace acsweep::train {

void freeze(torch::nn::Module& module) {
  for (auto& p : module.parameters()) p.set_requires_grad(false);
}

Stage1Result train_projector(models::LlamaForCausalLM& llm, models::VisionRepresentation& representation,
                             const std::vector<models::ImagePrompt>& captions, const Stage1Options& options,
                             const std::function<void(const Stage1Progress&)>& progress) {
  if (options.micro_batch < 1 || options.global_batch < options.micro_batch)
    throw std::invalid_argument("Stage 1: need 1 <= micro_batch <= global_batch");
  Stage1Result result;
  torch::manual_seed(options.init_seed);
  result.projector = models::Projector(representation.channels(), llm->config().hidden_size);
  result.projector->to(representation.device());

  // Captions that cannot fit the context next to the visual tokens are left out and counted.
  const auto visual_length = static_cast<std::size_t>(representation.visual_token_count());
  std::vector<std::size_t> usable;
  for (std::size_t i = 0; i < captions.size(); ++i) {
    if (models::spliced_length(captions[i].prompt, visual_length) <=
        static_cast<std::size_t>(llm->config().max_position_embeddings))
      usable.push_back(i);
    else
      ++result.skipped_too_long;
  }
  result.examples = usable.size();
  if (usable.empty()) throw std::invalid_argument("Stage 1: no caption fits the LLM's context");

  const auto per_epoch =
      (static_cast<std::int64_t>(usable.size()) + options.global_batch - 1) / options.global_batch;
  const auto steps = per_epoch * options.epochs;
  const auto warmup = warmup_steps(steps, options.warmup_ratio);
  torch::optim::AdamW optimizer(result.projector->parameters(),
                                torch::optim::AdamWOptions(options.learning_rate)
                                    .betas({0.9, 0.999})
                                    .eps(1e-8)
                                    .weight_decay(options.weight_decay));
  const auto start = std::chrono::steady_clock::now();
  std::size_t seen = 0;
  std::int64_t step = 0;
  for (std::int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    std::vector<std::size_t> order = usable;  // Fisher-Yates from a stream per epoch
    law::SeededRng rng(law::derive_seed(options.data_seed, {static_cast<std::uint64_t>(epoch)}));
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);

    for (std::size_t begin = 0; begin < order.size();
         begin += static_cast<std::size_t>(options.global_batch), ++step) {
      const std::size_t end = std::min(order.size(), begin + static_cast<std::size_t>(options.global_batch));
      double tokens = 0;
      for (std::size_t i = begin; i < end; ++i) {
        const auto& t = captions[order[i]].prompt.trainable;
        tokens += static_cast<double>(std::count(t.begin(), t.end(), true));
      }
      const double rate = cosine_with_warmup(step, steps, warmup, options.learning_rate);
      for (auto& group : optimizer.param_groups())
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(rate);
      optimizer.zero_grad();
      double step_loss = 0;
      for (std::size_t m = begin; m < end; m += static_cast<std::size_t>(options.micro_batch)) {
        const std::size_t m_end = std::min(end, m + static_cast<std::size_t>(options.micro_batch));
        std::vector<std::string> images;
        std::vector<const models::TokenizedPrompt*> prompts;
        for (std::size_t i = m; i < m_end; ++i) {
          images.push_back(captions[order[i]].image);
          prompts.push_back(&captions[order[i]].prompt);
        }
        const auto visual = result.projector->forward(models::visual_tokens(representation, images));
        std::vector<std::int64_t> counts;
        const auto loss = -models::trainable_token_log_probs(llm, prompts, visual, counts).sum() / tokens;
        loss.backward();
        step_loss += loss.item<double>();
      }
      if (options.max_grad_norm > 0)
        torch::nn::utils::clip_grad_norm_(result.projector->parameters(), options.max_grad_norm);
      optimizer.step();
      result.step_loss.push_back(step_loss);
      seen += end - begin;
      if (progress) {
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        progress({step + 1, steps, step_loss, seconds > 0 ? static_cast<double>(seen) / seconds : 0.0});
      }
    }
  }
  result.projector->eval();
  return result;
}

}  // namespace acsweep::train
