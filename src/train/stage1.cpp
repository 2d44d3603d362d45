#include "acsweep/train/stage1.hpp"

#include <chrono>
#include <numeric>
#include <stdexcept>

#include "acsweep/models/multimodal.hpp"
#include "acsweep/models/torch_runtime.hpp"
#include "acsweep/train/activation_checkpoint.hpp"
#include "acsweep/train/adamw.hpp"
#include "acsweep/train/autocast.hpp"
#include "acsweep/train/divergence.hpp"
#include "acsweep/train/prompt_batches.hpp"
#include "acsweep/train/schedule.hpp"

namespace acsweep::train {

void freeze(torch::nn::Module& module) {
  for (auto& p : module.parameters()) p.set_requires_grad(false);
}

Stage1Result train_projector(models::LlamaForCausalLM& llm, models::VisionRepresentation& representation,
                             const std::vector<models::ImagePrompt>& captions, const Stage1Options& options,
                             const std::function<void(const Stage1Progress&)>& progress) {
  SingleRankAllReduce one;
  return train_projector(llm, representation, captions, options, one, 0, progress);
}

Stage1Result train_projector(models::LlamaForCausalLM& llm, models::VisionRepresentation& representation,
                             const std::vector<models::ImagePrompt>& captions, const Stage1Options& options,
                             AllReduce& all_reduce, int rank,
                             const std::function<void(const Stage1Progress&)>& progress) {
  if (options.micro_batch < 1 || options.global_batch < options.micro_batch)
    throw std::invalid_argument("Stage 1: need 1 <= micro_batch <= global_batch");
  Stage1Result result;
  torch::manual_seed(options.init_seed);
  result.projector = models::Projector(representation.channels(), llm->config().hidden_size);
  result.projector->to(representation.device());

  // Captions longer than the context next to the visual tokens are cut as LLaVA cuts them.
  const auto fitted = fit_to_context(captions, static_cast<std::size_t>(representation.visual_token_count()),
                                     training_context(llm, options.max_length));
  const auto& usable = fitted.usable;
  result.skipped_too_long = fitted.too_long;
  result.truncated = fitted.truncated;
  result.examples = usable.size();
  if (usable.empty()) throw std::invalid_argument("Stage 1: no caption fits the LLM's context");

  const auto per_epoch =
      (static_cast<std::int64_t>(usable.size()) + options.global_batch - 1) / options.global_batch;
  const auto steps = per_epoch * options.epochs;
  const auto warmup = warmup_steps(steps, options.warmup_ratio);
  // Prescaled: each rank's loss is over the global batch's tokens, so the sum is the mean.
  GradientReducer reducer(result.projector->parameters(), all_reduce, GradientReducer::Averaging::prescaled);
  AdamW optimizer(result.projector->parameters(), {0.9, 0.999, 1e-8, options.weight_decay});
  const auto ranks = static_cast<std::size_t>(all_reduce.size()), me = static_cast<std::size_t>(rank);
  const LayerCheckpointing checkpointing(llm, options.activation_checkpointing);

  // The rank's micro-batches of every step in training order (indices into `usable`): the loader
  // prepares their images ahead of the loop.
  struct Step {
    double tokens = 0;  // trainable tokens of the whole global batch
    std::size_t examples = 0;
    std::vector<std::vector<std::size_t>> micro;
  };
  std::vector<Step> plan;
  std::vector<const std::vector<std::size_t>*> micro_batches;
  plan.reserve(static_cast<std::size_t>(steps));
  for (std::int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    const auto order = epoch_order(usable.size(), options.data_seed, epoch);
    for (std::size_t begin = 0; begin < order.size();
         begin += static_cast<std::size_t>(options.global_batch)) {
      const std::size_t end = std::min(order.size(), begin + static_cast<std::size_t>(options.global_batch));
      Step& s = plan.emplace_back();
      s.tokens = trainable_tokens(usable, order, begin, end);
      s.examples = end - begin;
      const auto [mine_begin, mine_end] = rank_share(begin, end, me, ranks);
      for (std::size_t m = mine_begin; m < mine_end; m += static_cast<std::size_t>(options.micro_batch))
        s.micro.emplace_back(
            order.begin() + static_cast<std::ptrdiff_t>(m),
            order.begin() + static_cast<std::ptrdiff_t>(
                                std::min(mine_end, m + static_cast<std::size_t>(options.micro_batch))));
    }
  }
  for (const auto& s : plan)
    for (const auto& m : s.micro) micro_batches.push_back(&m);
  auto loader = training_loader(representation, usable, micro_batches, options.loader_threads);

  const auto start = std::chrono::steady_clock::now();
  std::size_t seen = 0;
  for (std::int64_t step = 0; step < steps; ++step) {
    const Step& planned = plan[static_cast<std::size_t>(step)];
    reducer.zero_grad();
    // The step's loss summed on the device and read once, after the step: no wait on the device
    // per micro-batch (float64, as the sum of each micro-batch's value read back was before).
    auto loss_sum =
        torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat64).device(representation.device()));
    for (std::size_t k = 0; k < planned.micro.size(); ++k) {
      std::vector<const models::TokenizedPrompt*> prompts;
      for (const auto e : planned.micro[k]) prompts.push_back(&usable[e]->prompt);
      auto batch = loader->next();
      result.left_out.insert(batch.left_out.begin(), batch.left_out.end());
      torch::Tensor loss;
      {
        const Bf16Autocast autocast(representation.device(), options.bf16);
        const auto visual = result.projector->forward(models::visual_tokens(representation, batch.prepared));
        std::vector<std::int64_t> counts;
        const auto log_probs = models::trainable_token_log_probs(llm, prompts, visual, counts);
        loss = -models::without_unusable(log_probs, counts, batch.usable).sum() / planned.tokens;
      }
      if (k + 1 == planned.micro.size())
        reducer.arm();  // the step's last backward: reductions start as it goes
      loss.backward();
      loss_sum += loss.detach().to(torch::kFloat64);
    }
    reducer.reduce();  // every rank, even one whose share of a short last batch is empty
    double bad = static_cast<double>(result.left_out.size());
    double step_loss = 0;
    if (ranks > 1) {  // the loss and the bad images of the group, in one reduction (float32)
      auto total =
          torch::cat({loss_sum.to(torch::kFloat32),
                      torch::full({1}, bad, torch::TensorOptions().device(representation.device()))});
      all_reduce.sum(total);
      const auto sums = total.cpu();
      step_loss = sums[0].item<double>();
      bad = sums[1].item<double>();
    } else {
      step_loss = loss_sum.item<double>();
    }
    check_bad_images("Stage 1", bad, usable.size(), options.max_bad_fraction, result.left_out);
    check_loss_finite("Stage 1", step_loss, step + 1, steps);
    if (options.max_grad_norm > 0)
      torch::nn::utils::clip_grad_norm_(result.projector->parameters(), options.max_grad_norm);
    optimizer.step(cosine_with_warmup(step, steps, warmup, options.learning_rate));
    result.step_loss.push_back(step_loss);
    seen += planned.examples;
    if (progress) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      progress({step + 1, steps, step_loss, seconds > 0 ? static_cast<double>(seen) / seconds : 0.0,
                models::peak_memory_bytes(representation.device())});
    }
  }
  result.loader_wait_seconds = loader->waited_seconds();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.projector->eval();
  result.peak_bytes = models::peak_memory_bytes(representation.device());
  return result;
}

}  // namespace acsweep::train
