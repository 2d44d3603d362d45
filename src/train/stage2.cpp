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
  // The rank's micro-steps of every step still to run, in training order (indices into `usable`):
  // the loader prepares their images ahead of the loop.
  struct MicroStep {
    bool idle = false;  // past this rank's share of a short last batch
    bool last = false;  // holds the end of this rank's share, or is idle: reductions may start
    std::vector<std::size_t> examples;
  };
  struct Step {
    double tokens = 0;  // answer tokens of the whole global batch: every rank counts them alike
    std::vector<MicroStep> micro;
  };
  std::vector<Step> plan;
  std::vector<const std::vector<std::size_t>*> loaded;  // of the micro-steps that run a forward pass
  {
    std::vector<std::size_t> order;
    std::int64_t order_epoch = -1;
    for (std::int64_t step = cursor.step; step < last; ++step) {
      const std::int64_t epoch = step / per_epoch, b = step % per_epoch;
      if (epoch != order_epoch) {
        order = epoch_order(usable.size(), options.data_seed, epoch);
        order_epoch = epoch;
      }
      const auto begin = static_cast<std::size_t>(b * G),
                 end = static_cast<std::size_t>(std::min(n, b * G + G));
      Step& planned = plan.emplace_back();
      planned.tokens = trainable_tokens(usable, order, begin, end);
      const auto [mine_begin, mine_end] =
          rank_share(begin, end, static_cast<std::size_t>(rank), static_cast<std::size_t>(ranks));
      // Micro-steps of the rank with the largest share: a sharded group reduces at every one, so a
      // rank with less data takes its last ones without a backward, or, where the layers are
      // gathered as they run, with a forward and backward whose loss weighs nothing (on the global
      // batch's first example).
      const auto largest =
          rank_share(begin, end, static_cast<std::size_t>(ranks - 1), static_cast<std::size_t>(ranks));
      const auto micro = static_cast<std::size_t>(options.micro_batch);
      const std::size_t micro_steps = (largest.second - largest.first + micro - 1) / micro;
      for (std::size_t k = 0; k < micro_steps; ++k) {
        MicroStep& m = planned.micro.emplace_back();
        const std::size_t from = mine_begin + k * micro;
        m.idle = from >= mine_end;
        m.last = from + micro >= mine_end;
        if (m.idle && gathered) m.examples.push_back(order[begin]);
        for (std::size_t i = from; i < std::min(mine_end, from + micro); ++i) m.examples.push_back(order[i]);
      }
    }
  }
  for (const auto& step : plan)
    for (const auto& m : step.micro)
      if (!m.examples.empty()) loaded.push_back(&m.examples);
  auto loader = training_loader(representation, usable, loaded, options.loader_threads);

  double tokens_seen = 0, flops = 0;
  const double attention =
      12.0 * static_cast<double>(llm->config().num_hidden_layers * llm->config().hidden_size);
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t first_step = cursor.step;
  for (std::int64_t step = first_step; step < last; ++step) {
    const Step& planned = plan[static_cast<std::size_t>(step - first_step)];
    const double tokens = planned.tokens;
    optimizer.zero_grad();
    auto loss_sum = torch::zeros({1}, torch::TensorOptions().device(device));
    for (std::size_t k = 0; k < planned.micro.size(); ++k) {
      const MicroStep& m = planned.micro[k];
      if (m.examples.empty()) {  // idle, and the layers whole: no forward pass
        optimizer.after_backward();
        continue;
      }
      std::vector<const models::TokenizedPrompt*> prompts;
      for (const auto e : m.examples) {
        prompts.push_back(&usable[e]->prompt);
        if (m.idle) continue;
        const auto length = static_cast<double>(models::spliced_length(usable[e]->prompt, visual_length));
        tokens_seen += length;
        flops += length * (6.0 * llm_parameters + attention * length);
      }
      auto batch = loader->next();
      result.left_out.insert(batch.left_out.begin(), batch.left_out.end());
      torch::Tensor negative_log_likelihood;
      {
        const Bf16Autocast autocast(device, autocast_on);
        const auto visual = projector->forward(models::visual_tokens(representation, batch.prepared));
        std::vector<std::int64_t> counts;
        const auto log_probs = models::trainable_token_log_probs(llm, prompts, visual, counts);
        negative_log_likelihood = -models::without_unusable(log_probs, counts, batch.usable).sum();
      }
      if (m.last) optimizer.before_last_backward();
      // Prescaled: the sum over ranks is the global mean.
      (negative_log_likelihood * (m.idle ? 0.0 : 1.0 / tokens)).backward();
      optimizer.after_backward();
      if (!m.idle) loss_sum += negative_log_likelihood.detach();
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
  result.loader_wait_seconds = loader->waited_seconds();
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (gathered) optimizer.sharded()->gather_all();  // the model whole again for what follows
  result.step_loss = cursor.step_loss;
  result.peak_bytes = models::peak_memory_bytes(device);
  return result;
}

}  // namespace acsweep::train
