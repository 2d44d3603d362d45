#include "acsweep/train/prompt_batches.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "acsweep/error.hpp"
#include "acsweep/law/seeded_rng.hpp"

namespace acsweep::train {

std::size_t training_context(const models::LlamaForCausalLM& llm, std::int64_t max_length) {
  const auto context = static_cast<std::size_t>(llm->config().max_position_embeddings);
  return max_length > 0 ? std::min(context, static_cast<std::size_t>(max_length)) : context;
}

FittedPrompts fit_to_context(const std::vector<models::ImagePrompt>& prompts, std::size_t visual_tokens,
                             std::size_t context) {
  FittedPrompts out;
  for (const auto& p : prompts) {
    const std::size_t length = models::spliced_length(p.prompt, visual_tokens);
    if (length <= context) {
      out.usable.push_back(&p);
      continue;
    }
    // The text tokens that fit beside the visual tokens; an image must come whole.
    const std::size_t visual = visual_tokens * p.prompt.image_positions.size();
    const std::size_t keep = context > visual ? context - visual : 0;
    bool fits = keep > 0;
    for (const auto at : p.prompt.image_positions) fits = fits && at < keep;
    if (fits)
      fits = std::count(p.prompt.trainable.begin(), p.prompt.trainable.begin() + static_cast<long>(keep),
                        true) > 0;
    if (!fits) {
      ++out.too_long;
      continue;
    }
    models::ImagePrompt cut = p;
    cut.prompt.ids.resize(keep);
    cut.prompt.trainable.resize(keep);
    out.cut.push_back(std::move(cut));
    out.usable.push_back(&out.cut.back());
    ++out.truncated;
  }
  return out;
}

void check_bad_images(const char* stage, double bad, std::size_t examples, double max_bad_fraction,
                      const std::set<std::string>& mine) {
  // Rounded down, past the float error of a product such as 0.29 * 100 = 28.999999999999996.
  const double allowed = std::floor(max_bad_fraction * static_cast<double>(examples) + 1e-9);
  if (bad <= allowed) return;
  char counts[160];
  std::snprintf(counts, sizeof counts,
                "%.0f training images do not decode, more than [job] max_bad_fraction %g of %zu "
                "examples allows (%.0f)",
                bad, max_bad_fraction, examples, allowed);
  throw InputError(
      std::string(stage) + ": " + counts +
      (mine.empty() ? " (named on the ranks that met them)" : "; this rank's first: " + *mine.begin()));
}

std::unique_ptr<TrainingLoader> training_loader(
    const models::VisionRepresentation& representation,
    const std::vector<const models::ImagePrompt*>& prompts,
    const std::vector<const std::vector<std::size_t>*>& micro_batches, std::size_t threads) {
  return std::make_unique<TrainingLoader>(
      micro_batches.size(),
      [&representation, &prompts, &micro_batches](std::size_t i) {
        std::vector<std::string> images;
        for (const auto e : *micro_batches[i]) images.push_back(prompts[e]->image);
        return models::prepare_for_training(representation, images);
      },
      threads);
}

std::vector<std::size_t> epoch_order(std::size_t n, std::uint64_t seed, std::int64_t epoch) {
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  law::SeededRng rng(law::derive_seed(seed, {static_cast<std::uint64_t>(epoch)}));
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

std::pair<std::size_t, std::size_t> rank_share(std::size_t begin, std::size_t end, std::size_t rank,
                                               std::size_t ranks) {
  return {begin + (end - begin) * rank / ranks, begin + (end - begin) * (rank + 1) / ranks};
}

double trainable_tokens(const std::vector<const models::ImagePrompt*>& prompts,
                        const std::vector<std::size_t>& order, std::size_t begin, std::size_t end) {
  double tokens = 0;
  for (std::size_t i = begin; i < end; ++i) {
    const auto& t = prompts[order[i]]->prompt.trainable;
    tokens += static_cast<double>(std::count(t.begin(), t.end(), true));
  }
  return tokens;
}

}  // namespace acsweep::train
