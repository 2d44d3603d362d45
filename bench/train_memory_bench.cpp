// One Stage-2-shaped training step of a Llama (hidden 512, 8 layers, vocabulary 32000; 4
// conversations of 512 tokens with 64 visual ones, the loss on the last 3/4) and what it costs in
// peak memory and time, one configuration per process (the peak resident set cannot be reset):
//   bench_train_memory LOSS CHECKPOINTING   LOSS: full (the baseline: every [B, T, vocab] logit,
//   then the picks, as acsweep computed it before) or chunked (models::trainable_token_log_probs);
//   CHECKPOINTING: 0 or 1 (train::LayerCheckpointing)   ->  one JSON line.
// bench/train_memory.sh runs the four side by side and prints the ratios, and for the chunked loss
// (the one acsweep trains with) the peak above the process's start against the memory plan's.
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "acsweep/models/llama.hpp"
#include "acsweep/models/multimodal.hpp"
#include "acsweep/models/torch_runtime.hpp"
#include "acsweep/train/activation_checkpoint.hpp"
#include "acsweep/train/adamw.hpp"
#include "acsweep/train/memory_plan.hpp"
#include "acsweep/train/sharded_adamw.hpp"
#include "best_of.hpp"
#include "random_prompts.hpp"

namespace {

constexpr std::int64_t kBatch = 4, kText = 448, kVisual = 64;

// The baseline: the logits of every position, then the rows that predict a trainable token.
torch::Tensor full_logits_log_probs(acsweep::models::LlamaForCausalLM& llm,
                                    const std::vector<acsweep::models::TokenizedPrompt>& prompts,
                                    const torch::Tensor& visual) {
  std::vector<torch::Tensor> rows;
  std::vector<std::int64_t> from, targets;
  const std::int64_t T = kText + kVisual;
  for (std::size_t b = 0; b < prompts.size(); ++b) {
    const auto& p = prompts[b];
    const auto text = llm->embed(torch::tensor(p.ids).unsqueeze(0)).squeeze(0);
    rows.push_back(torch::cat({text.slice(0, 0, 1), visual[static_cast<std::int64_t>(b)], text.slice(0, 1)}));
    for (std::size_t i = 0; i < p.ids.size(); ++i)
      if (p.trainable[i]) {
        from.push_back(static_cast<std::int64_t>(b) * T + static_cast<std::int64_t>(i) + kVisual - 1);
        targets.push_back(p.ids[i]);
      }
  }
  const auto logits = llm->forward(torch::stack(rows));
  const auto picked = logits.reshape({-1, logits.size(2)}).index_select(0, torch::tensor(from));
  return torch::log_softmax(picked, -1).gather(1, torch::tensor(targets).unsqueeze(1)).squeeze(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "full" && std::string(argv[1]) != "chunked")) {
    std::fprintf(stderr, "usage: bench_train_memory full|chunked 0|1\n");
    return 2;
  }
  const bool chunked = std::string(argv[1]) == "chunked", checkpointing = std::stoi(argv[2]) != 0;
  acsweep::models::keep_tensor_memory_for_reuse();
  // The process before any tensor: LibTorch and the other libraries, which the plan does not count.
  const auto before = acsweep::models::peak_memory_bytes(-1);
  torch::manual_seed(0);
  const auto c = acsweep::models::llama_config({32000, 512, 1376, 8, 8, 8, 64}, 1024);
  acsweep::models::LlamaForCausalLM llm(c);
  acsweep::train::AdamW optimizer(llm->parameters());
  const auto prompts = random_prompts(kBatch, kText, c.vocab_size);
  std::vector<const acsweep::models::TokenizedPrompt*> batch;
  for (const auto& p : prompts) batch.push_back(&p);
  const auto visual = torch::randn({kBatch, kVisual, c.hidden_size});
  const acsweep::train::LayerCheckpointing layers(llm, checkpointing);
  const auto step = [&] {
    for (auto& p : llm->parameters()) p.mutable_grad() = torch::Tensor();
    std::vector<std::int64_t> counts;
    const auto log_probs = chunked ? acsweep::models::trainable_token_log_probs(llm, batch, visual, counts)
                                   : full_logits_log_probs(llm, prompts, visual);
    (-log_probs.mean()).backward();
    optimizer.step(1e-4);
  };
  const double best = best_seconds(2, step);
  // The memory plan of the same step (train/memory_plan.hpp), without a projector: the plan's
  // projector part is subtracted.
  acsweep::train::TrainingShape shape;
  shape.micro_batch = kBatch;
  shape.sequence = kText + kVisual;
  shape.activation_checkpointing = checkpointing;
  const auto plan = acsweep::train::plan_training(c, shape, acsweep::train::ShardLevel::none);
  const auto projector = 16 * acsweep::train::projector_parameters(0, c.hidden_size);
  std::printf(
      "{\"loss\": \"%s\", \"checkpointing\": %d, \"step_s\": %.4f, \"peak_rss_bytes\": %lld, "
      "\"before_tensors_bytes\": %lld, \"plan_bytes\": %lld}\n",
      argv[1], checkpointing ? 1 : 0, best, static_cast<long long>(acsweep::models::peak_memory_bytes(-1)),
      static_cast<long long>(before), static_cast<long long>(plan.total() - projector));
  return 0;
}
