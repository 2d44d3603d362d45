// Sharded data parallel (train/group_optimizer.hpp) on the ranks it is started on: one
// Stage-2-shaped training step of a Llama of about 106M parameters (hidden 768, 8 layers,
// vocabulary 32000), 2 conversations of 256 tokens (64 visual) per rank, at one shard level,
// optionally with every layer recomputed and with bf16 weights over float32 master shards:
//   mpirun -np W bench_train_shard none|optimizer|gradients|parameters [checkpointing] [bf16]
//     ->  one JSON line from rank 0
// with the step time (best of 3 after a warm-up), the largest rank's peak resident set above the
// process's start, and the memory plan's bytes per rank (train/memory_plan.hpp) for the same.
// bench/train_shard.sh runs every level at 1, 2 and 4 ranks and prints the ratios to `none`.
#include <mpi.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "acsweep/models/llama.hpp"
#include "acsweep/models/multimodal.hpp"
#include "acsweep/models/torch_runtime.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/train/activation_checkpoint.hpp"
#include "acsweep/train/autocast.hpp"
#include "acsweep/train/group_optimizer.hpp"
#include "acsweep/train/memory_plan.hpp"
#include "best_of.hpp"
#include "random_prompts.hpp"

namespace {

constexpr std::int64_t kBatch = 2, kText = 192, kVisual = 64;

int run(const std::string& level_name, bool checkpointing, bool bf16) {
  using namespace acsweep;
  const auto level = train::shard_level(level_name);
  const bool gathered = level == train::ShardLevel::parameters;
  int rank = 0, ranks = 1;
  runtime::check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
  runtime::check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &ranks), "MPI_Comm_size");
  models::keep_tensor_memory_for_reuse();
  const auto before = models::peak_memory_bytes(-1);
  torch::manual_seed(0);  // the same weights on every rank
  const auto c = models::llama_config({32000, 768, 2048, 8, 12, 12, 64}, 1024);
  models::LlamaForCausalLM llm(c);
  if (bf16) llm->to(torch::kBFloat16);
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (const auto& p : llm->named_parameters()) named.emplace_back(p.key(), p.value());
  train::MpiAllReduce group(MPI_COMM_WORLD);
  train::GroupOptimizer optimizer(
      named, group, rank, level, {},
      gathered ? train::decoder_layer_units(llm, named) : std::vector<std::vector<std::size_t>>{});
  const train::LayerCheckpointing recompute(llm, checkpointing, gathered ? optimizer.sharded() : nullptr);
  torch::manual_seed(100 + rank);  // each rank its own data
  const auto prompts = random_prompts(kBatch, kText, c.vocab_size);
  std::vector<const models::TokenizedPrompt*> batch;
  for (const auto& p : prompts) batch.push_back(&p);
  const auto visual = torch::randn({kBatch, kVisual, c.hidden_size});
  const auto step = [&] {
    optimizer.zero_grad();
    std::vector<std::int64_t> counts;
    torch::Tensor loss;
    {
      const train::Bf16Autocast autocast(torch::kCPU, bf16);
      loss = -models::trainable_token_log_probs(llm, batch, visual, counts).mean() / ranks;
    }
    optimizer.before_last_backward();
    loss.backward();
    optimizer.after_backward();
    optimizer.reduce();
    optimizer.clip(1.0);
    optimizer.step(1e-4);
  };
  const double seconds = best_seconds(3, step);
  long long used = models::peak_memory_bytes(-1) - before, largest = 0;
  runtime::check_mpi(MPI_Reduce(&used, &largest, 1, MPI_LONG_LONG, MPI_MAX, 0, MPI_COMM_WORLD), "MPI_Reduce");
  double slowest = 0;
  runtime::check_mpi(MPI_Reduce(&seconds, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD), "MPI_Reduce");
  train::TrainingShape shape;
  shape.micro_batch = kBatch;
  shape.sequence = kText + kVisual;
  shape.group = ranks;
  shape.activation_checkpointing = checkpointing;
  shape.bf16 = bf16;
  shape.weight_bytes = bf16 ? 2 : 4;
  const auto plan = train::plan_training(c, shape, level);
  // No projector here: its part of the plan comes off (weights, gradient, moments, master).
  const long long projector = (bf16 ? 14 : 16) * train::projector_parameters(0, c.hidden_size);
  long long state = 0;
  for (const auto& [name, bytes] : plan.parts)
    if (name == "weights" || name == "gradients" || name == "optimizer" || name == "master") state += bytes;
  if (rank == 0)
    std::printf(
        "{\"level\": \"%s%s%s\", \"ranks\": %d, \"step_s\": %.4f, \"peak_above_start_bytes\": %lld, "
        "\"plan_bytes\": %lld, \"plan_model_state_bytes\": %lld}\n",
        level_name.c_str(), checkpointing ? "+recompute" : "", bf16 ? "+bf16" : "", ranks, slowest, largest,
        static_cast<long long>(plan.total()) - projector, state - projector);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rc = 2;
  bool checkpointing = false, bf16 = false, known = argc >= 2;
  for (int i = 2; i < argc; ++i) {
    const std::string word = argv[i];
    checkpointing = checkpointing || word == "checkpointing";
    bf16 = bf16 || word == "bf16";
    known = known && (word == "checkpointing" || word == "bf16");
  }
  if (known) {
    try {
      rc = run(argv[1], checkpointing, bf16);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_train_shard: %s\n", e.what());
      rc = 1;
    }
  } else {
    std::fprintf(stderr,
                 "usage: mpirun -np W bench_train_shard none|optimizer|gradients|parameters [checkpointing] "
                 "[bf16]\n");
  }
  MPI_Finalize();
  return rc;
}
