#include "acsweep/train/stage2.hpp"

#include <chrono>
#include <stdexcept>

#include "acsweep/models/torch_runtime.hpp"
#include "acsweep/train/activation_checkpoint.hpp"
#include "acsweep/train/autocast.hpp"
#include "acsweep/train/checkpoint.hpp"
#include "acsweep/train/divergence.hpp"
#include "acsweep/train/group_optimizer.hpp"
#include "acsweep/train/prompt_batches.hpp"
#include "acsweep/train/schedule.hpp"

namespace acsweep::train {

std::vector<std::pair<std::string, torch::Tensor>> stage2_parameters(models::LlamaForCausalLM& llm,
                                                                     models::Projector& projector) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : projector->named_parameters())
    out.emplace_back("model.mm_projector." + p.key(), p.value());
  for (const auto& p : llm->named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}

Stage2Result train_stage2(models::LlamaForCausalLM& llm, models::Projector& projector,
                          models::VisionRepresentation& representation,
                          const std::vector<models::ImagePrompt>& conversations, const Stage2Options& options,
                          AllReduce& all_reduce, int rank,
                          const std::function<void(const Stage2Progress&)>& progress) {
  const std::int64_t ranks = all_reduce.size();
  if (options.micro_batch < 1 || options.global_batch % (options.micro_batch * ranks) != 0)
    throw std::invalid_argument("Stage 2: global_batch " + std::to_string(options.global_batch) +
                                " is not a multiple of micro_batch " + std::to_string(options.micro_batch) +
                                " x " + std::to_string(ranks) + " ranks");
  if (options.checkpoint_every > 0 && options.checkpoint_dir.empty())
    throw std::invalid_argument("Stage 2: checkpoint_every needs a checkpoint_dir");
  // Conversations longer than the context next to the visual tokens are cut as LLaVA cuts them.
  const auto visual_length = static_cast<std::size_t>(representation.visual_token_count());
  const auto fitted = fit_to_context(conversations, visual_length, training_context(llm, options.max_length));
  const auto& usable = fitted.usable;
  if (usable.empty()) throw std::invalid_argument("Stage 2: no conversation fits the LLM's context");

  if (options.param_dtype != torch::kFloat32) {
    if (options.param_dtype != torch::kBFloat16)
      throw std::invalid_argument("Stage 2: the weights compute in float32 or bfloat16");
    if (options.shard == ShardLevel::none)
      throw std::invalid_argument(
          "Stage 2: bf16 weights train over float32 master weights, which only a sharded optimizer keeps "
          "(shard = optimizer, gradients or parameters)");
    llm->to(options.param_dtype);  // in place: the scoring copy is not kept beside it
    projector->to(options.param_dtype);
  }
  const bool autocast_on = options.bf16 || options.param_dtype == torch::kBFloat16;
  double llm_parameters = 0;  // counted while every weight is whole
  for (const auto& p : llm->parameters()) llm_parameters += static_cast<double>(p.numel());
  const auto named = stage2_parameters(llm, projector);
  for (const auto& [name, p] : named) p.set_requires_grad(true);
  const bool gathered = options.shard == ShardLevel::parameters;
  GroupOptimizer optimizer(
      named, all_reduce, rank, options.shard, {0.9, 0.999, 1e-8, options.weight_decay},
      gathered ? decoder_layer_units(llm, named) : std::vector<std::vector<std::size_t>>{});

  const auto n = static_cast<std::int64_t>(usable.size()), G = options.global_batch;
  const std::int64_t per_epoch = (n + G - 1) / G;
  Stage2Result result;
  result.skipped_too_long = fitted.too_long;
  result.truncated = fitted.truncated;
  result.steps = per_epoch * options.epochs;
  const auto warmup = warmup_steps(result.steps, options.warmup_ratio);
  const std::int64_t last =
      options.stop_after > 0 ? std::min(options.stop_after, result.steps) : result.steps;

  TrainingCursor cursor;
  if (!options.checkpoint_dir.empty()) {
    if (const auto step = latest_checkpoint(options.checkpoint_dir)) {
      cursor = optimizer.load(options.checkpoint_dir, *step);
      result.resumed_from = cursor.step;
    }
  }

  const auto device = representation.device();
  // At shard level parameters every layer is gathered as it runs, and so also recomputed.
  const LayerCheckpointing checkpointing(llm, options.activation_checkpointing,
                                         gathered ? optimizer.sharded() : nullptr);
  std::vector<std::size_t> order;
  std::int64_t order_epoch = -1;
  double tokens_seen = 0, flops = 0;
  const double attention =
      12.0 * static_cast<double>(llm->config().num_hidden_layers * llm->config().hidden_size);
  const auto start = std::chrono::steady_clock::now();
  for (std::int64_t step = cursor.step; step < last; ++step) {
    const std::int64_t epoch = step / per_epoch, b = step % per_epoch;
    if (epoch != order_epoch) {
      order = epoch_order(usable.size(), options.data_seed, epoch);
      order_epoch = epoch;
    }
    const std::int64_t begin = b * G, size = std::min(n, begin + G) - begin;
    // Answer tokens of the whole global batch: every rank counts them alike.
    const double tokens = trainable_tokens(usable, order, static_cast<std::size_t>(begin),
                                           static_cast<std::size_t>(begin + size));
    const auto share = rank_share(static_cast<std::size_t>(begin), static_cast<std::size_t>(begin + size),
                                  static_cast<std::size_t>(rank), static_cast<std::size_t>(ranks));
    const auto mine_begin = static_cast<std::int64_t>(share.first),
               mine_end = static_cast<std::int64_t>(share.second);
    // Micro-steps of the rank with the largest share: a sharded group reduces at every one, so a
    // rank with less data takes its last ones without a backward, or, where the layers are
    // gathered as they run, with a forward and backward whose loss weighs nothing.
    const auto largest = rank_share(static_cast<std::size_t>(begin), static_cast<std::size_t>(begin + size),
                                    static_cast<std::size_t>(ranks - 1), static_cast<std::size_t>(ranks));
    const std::int64_t micro_steps =
        (static_cast<std::int64_t>(largest.second - largest.first) + options.micro_batch - 1) /
        options.micro_batch;

    optimizer.zero_grad();
    auto loss_sum = torch::zeros({1}, torch::TensorOptions().device(device));
    for (std::int64_t k = 0; k < micro_steps; ++k) {
      const std::int64_t m = mine_begin + k * options.micro_batch;
      const bool idle = m >= mine_end;
      if (idle && !gathered) {
        optimizer.after_backward();
        continue;
      }
      std::vector<std::string> images;
      std::vector<const models::TokenizedPrompt*> prompts;
      if (idle) {  // the collectives of a micro-step, on the global batch's first example
        const auto& example = *usable[order[static_cast<std::size_t>(begin)]];
        images.push_back(example.image);
        prompts.push_back(&example.prompt);
      }
      for (std::int64_t i = m; i < std::min(mine_end, m + options.micro_batch); ++i) {
        const auto& example = *usable[order[static_cast<std::size_t>(i)]];
        images.push_back(example.image);
        prompts.push_back(&example.prompt);
        const auto length = static_cast<double>(models::spliced_length(example.prompt, visual_length));
        tokens_seen += length;
        flops += length * (6.0 * llm_parameters + attention * length);
      }
      torch::Tensor negative_log_likelihood;
      {
        const Bf16Autocast autocast(device, autocast_on);
        const auto decoded = models::decode_for_training(images, result.left_out);
        const auto visual = projector->forward(models::visual_tokens(representation, decoded.images));
        std::vector<std::int64_t> counts;
        const auto log_probs = models::trainable_token_log_probs(llm, prompts, visual, counts);
        negative_log_likelihood = -models::without_unusable(log_probs, counts, decoded.usable).sum();
      }
      if (m + options.micro_batch >= mine_end) optimizer.before_last_backward();
      // Prescaled: the sum over ranks is the global mean.
      (negative_log_likelihood * (idle ? 0.0 : 1.0 / tokens)).backward();
      optimizer.after_backward();
      if (!idle) loss_sum += negative_log_likelihood.detach();
    }
    optimizer.reduce();  // every rank, even one whose share of a short last batch is empty
    // The loss and the bad images of the group, in one reduction (float32, as the reducers take).
    auto sums = torch::cat(
        {loss_sum, torch::full({1}, static_cast<double>(result.left_out.size()), loss_sum.options())});
    all_reduce.sum(sums);
    sums = sums.cpu();
    const double step_loss = sums[0].item<double>() / tokens;
    check_bad_images("Stage 2", sums[1].item<double>(), usable.size(), options.max_bad_fraction,
                     result.left_out);
    check_loss_finite("Stage 2", step_loss, step + 1, result.steps);
    if (options.max_grad_norm > 0) optimizer.clip(options.max_grad_norm);
    optimizer.step(cosine_with_warmup(step, result.steps, warmup, options.learning_rate));
    cursor.step = step + 1;
    cursor.step_loss.push_back(step_loss);
    if (options.checkpoint_every > 0 && cursor.step % options.checkpoint_every == 0) {
      optimizer.save(options.checkpoint_dir, cursor);
      if (rank == 0) prune_checkpoints(options.checkpoint_dir, options.keep_checkpoints);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.tokens_per_second = seconds > 0 ? tokens_seen / seconds : 0.0;
    result.flops_per_second = seconds > 0 ? flops / seconds : 0.0;
    result.peak_bytes = models::peak_memory_bytes(device);
    if (progress)
      progress({cursor.step, result.steps, cursor.step_loss.back(), result.tokens_per_second,
                result.flops_per_second, result.peak_bytes});
  }
  if (gathered) optimizer.sharded()->gather_all();  // the model whole again for what follows
  result.step_loss = cursor.step_loss;
  result.peak_bytes = models::peak_memory_bytes(device);
  return result;
}

}  // namespace acsweep::train
