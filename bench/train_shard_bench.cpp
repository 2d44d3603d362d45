// Sharded data parallel (train/group_optimizer.hpp) on the ranks it is started on: one
// Stage-2-shaped training step at one shard level, optionally with every layer recomputed, with
// bf16 weights over float32 master shards, and at `parameters` without the next layer's prefetch:
//   mpirun -np W bench_train_shard none|optimizer|gradients|parameters [checkpointing] [bf16]
//                                  [noprefetch] [cuda] [1b]
//     ->  one JSON line from rank 0
// with the step time (best of 3 after a warm-up), the largest rank's peak memory above the
// process's start (the resident set on a CPU; CUDA's peak allocated with `cuda`), the largest
// rank's peak of tensor bytes (on a CPU: bench/tensor_memory.hpp, the CPU's "peak allocated"),
// and the memory plan's bytes per rank (train/memory_plan.hpp) for the same.
//  - The CPU shape: a Llama of about 106M parameters (hidden 768, 8 layers, vocabulary 32000), 2
//    conversations of 256 tokens (64 visual) per rank; bench/train_shard.sh runs every level at
//    1, 2 and 4 ranks and prints the ratios to `none`.
//  - `1b`: a Llama of 1.1B parameters (TinyLlama's shape: hidden 2048, 22 layers, 32 heads, 4 KV
//    heads), 4 conversations of 2048 tokens (576 visual) per rank, as the paper's Stage 2.
//  - `cuda`: on the rank's GPU, NCCL between the ranks, under bf16 autocast (the weights are bf16
//    with `bf16`, else float32), with tokens/s and the model FLOPs utilisation against
//    ACSWEEP_PEAK_TFLOPS (default 989: an H100's or H200's dense bf16). Model FLOPs per token:
//    6 per weight outside the input embeddings, plus 6 x layers x hidden x the sequence for causal
//    attention; a recomputed forward pass is not counted (tests/device/gpu_check.sh runs it).
#include <mpi.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>
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
#include "tensor_memory.hpp"

namespace {

struct Words {
  bool checkpointing = false, bf16 = false, prefetch = true, cuda = false, large = false;
};

int run(const std::string& level_name, const Words& words, TensorMemory& tensors) {
  using namespace acsweep;
  const auto level = train::shard_level(level_name);
  const bool gathered = level == train::ShardLevel::parameters;
  int rank = 0, ranks = 1;
  runtime::check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
  runtime::check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &ranks), "MPI_Comm_size");
  const torch::Device device =
      words.cuda ? torch::Device(torch::kCUDA, rank % static_cast<int>(torch::cuda::device_count()))
                 : torch::Device(torch::kCPU);
  const int memory_device = words.cuda ? device.index() : -1;
  const bool autocast = words.bf16 || words.cuda;
  models::keep_tensor_memory_for_reuse();
  const auto before = models::peak_memory_bytes(memory_device);
  const std::int64_t micro_batch = words.large ? 4 : 2, text = words.large ? 1472 : 192,
                     visual_tokens = words.large ? 576 : 64;
  torch::manual_seed(0);  // the same weights on every rank
  const auto c = words.large ? models::llama_config({32000, 2048, 5632, 22, 32, 4, 64}, 2048)
                             : models::llama_config({32000, 768, 2048, 8, 12, 12, 64}, 1024);
  models::LlamaForCausalLM llm(c);
  llm->to(device, words.bf16 ? torch::kBFloat16 : torch::kFloat32);
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (const auto& p : llm->named_parameters()) named.emplace_back(p.key(), p.value());
  std::unique_ptr<train::AllReduce> group = words.cuda
                                                ? train::make_nccl_all_reduce(MPI_COMM_WORLD, device.index())
                                                : std::make_unique<train::MpiAllReduce>(MPI_COMM_WORLD);
  train::GroupOptimizer optimizer(
      named, *group, rank, level, {},
      gathered ? train::decoder_layer_units(llm, named) : std::vector<std::vector<std::size_t>>{});
  if (gathered) optimizer.sharded()->set_prefetch(words.prefetch);
  const train::LayerCheckpointing recompute(llm, words.checkpointing,
                                            gathered ? optimizer.sharded() : nullptr);
  torch::manual_seed(100 + rank);  // each rank its own data
  const auto prompts = random_prompts(micro_batch, text, c.vocab_size);
  std::vector<const models::TokenizedPrompt*> batch;
  for (const auto& p : prompts) batch.push_back(&p);
  const auto visual = torch::randn({micro_batch, visual_tokens, c.hidden_size}).to(device);
  // On a CPU, the peak of tensor bytes in each phase of the step (the most over the runs): the
  // forward pass, the backward pass (with the reduction that overlaps it), the reduction after it
  // and the clip, and AdamW's step with the all-gather of the updated weights.
  enum Phase { forward, backward, reduction, adamw, phases };
  std::array<long long, phases> phase_peak{};
  const auto phase_ends = [&](Phase phase) {
    if (words.cuda) return;
    phase_peak[phase] = std::max<long long>(phase_peak[phase], tensors.peak());
    tensors.reset_peak();
  };
  const auto step = [&] {
    tensors.reset_peak();
    optimizer.zero_grad();
    std::vector<std::int64_t> counts;
    torch::Tensor loss;
    {
      const train::Bf16Autocast cast(device, autocast);
      loss = -models::trainable_token_log_probs(llm, batch, visual, counts).mean() / ranks;
    }
    phase_ends(forward);
    optimizer.before_last_backward();
    loss.backward();
    optimizer.after_backward();
    loss = torch::Tensor();
    phase_ends(backward);
    optimizer.reduce();
    optimizer.clip(1.0);
    phase_ends(reduction);
    optimizer.step(1e-4);
    phase_ends(adamw);
    if (words.cuda) torch::cuda::synchronize(device.index());
  };
  const double seconds = best_seconds(3, step);
  long long used = models::peak_memory_bytes(memory_device) - before, largest = 0;
  long long tensor_peak = words.cuda ? used : *std::max_element(phase_peak.begin(), phase_peak.end()),
            largest_tensors = 0;
  runtime::check_mpi(MPI_Reduce(&tensor_peak, &largest_tensors, 1, MPI_LONG_LONG, MPI_MAX, 0, MPI_COMM_WORLD),
                     "MPI_Reduce");
  std::array<long long, phases> largest_phase{};
  runtime::check_mpi(
      MPI_Reduce(phase_peak.data(), largest_phase.data(), phases, MPI_LONG_LONG, MPI_MAX, 0, MPI_COMM_WORLD),
      "MPI_Reduce");
  runtime::check_mpi(MPI_Reduce(&used, &largest, 1, MPI_LONG_LONG, MPI_MAX, 0, MPI_COMM_WORLD), "MPI_Reduce");
  double slowest = 0;
  runtime::check_mpi(MPI_Reduce(&seconds, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD), "MPI_Reduce");
  train::TrainingShape shape;
  shape.micro_batch = micro_batch;
  shape.sequence = text + visual_tokens;
  shape.visual_tokens = visual_tokens;
  shape.group = ranks;
  shape.activation_checkpointing = words.checkpointing;
  shape.bf16 = autocast;
  shape.weight_bytes = words.bf16 ? 2 : 4;
  const auto plan = train::plan_training(c, shape, level);
  // No projector here: its part of the plan comes off (weights, gradient, moments, master).
  const long long projector = (words.bf16 ? 14 : 16) * train::projector_parameters(0, c.hidden_size);
  long long state = 0;
  std::string parts;  // the plan's parts, as JSON members
  for (const auto& part : plan.parts) {
    parts += (parts.empty() ? "\"" : ", \"") + part.name + "\": [" + std::to_string(part.bytes) + ", \"" +
             train::when_name(part.when) + "\"]";
    if (part.name == "weights" || part.name == "gradients" || part.name == "optimizer" ||
        part.name == "master")
      state += part.bytes;
  }
  // Model FLOPs of the step (rank 0's tokens times the group), and what the device could do.
  const double tokens = static_cast<double>(micro_batch * (text + visual_tokens) * ranks);
  const double weights = static_cast<double>(train::llama_parameters(c) - c.vocab_size * c.hidden_size);
  const double flops =
      tokens * (6 * weights + 6.0 * c.num_hidden_layers * c.hidden_size * (text + visual_tokens));
  const char* peak = std::getenv("ACSWEEP_PEAK_TFLOPS");
  const double peak_flops = (peak ? std::atof(peak) : 989.0) * 1e12 * ranks;
  if (rank == 0)
    std::printf(
        "{\"level\": \"%s%s%s%s\", \"ranks\": %d, \"device\": \"%s\", \"parameters\": %lld, "
        "\"step_s\": %.4f, \"tokens_per_s\": %.0f, \"mfu\": %.4f, \"peak_above_start_bytes\": %lld, "
        "\"tensor_peak_bytes\": %lld, \"tensor_phase_peak_bytes\": {\"forward\": %lld, \"backward\": %lld, "
        "\"reduction\": %lld, \"adamw\": %lld}, "
        "\"plan_bytes\": %lld, \"plan_model_state_bytes\": %lld, \"plan_parts\": {%s}}\n",
        level_name.c_str(), words.checkpointing ? "+recompute" : "", words.bf16 ? "+bf16" : "",
        words.prefetch ? "" : "+noprefetch", ranks, device.str().c_str(),
        static_cast<long long>(train::llama_parameters(c)), slowest, tokens / slowest,
        words.cuda ? flops / slowest / peak_flops : 0.0, largest, largest_tensors, largest_phase[forward],
        largest_phase[backward], largest_phase[reduction], largest_phase[adamw],
        static_cast<long long>(plan.total()) - projector, state - projector, parts.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto& tensors = TensorMemory::install();  // before the first tensor
  MPI_Init(&argc, &argv);
  int rc = 2;
  Words words;
  bool known = argc >= 2;
  for (int i = 2; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "checkpointing")
      words.checkpointing = true;
    else if (word == "bf16")
      words.bf16 = true;
    else if (word == "noprefetch")
      words.prefetch = false;
    else if (word == "cuda")
      words.cuda = true;
    else if (word == "1b")
      words.large = true;
    else
      known = false;
  }
  if (known) {
    try {
      rc = run(argv[1], words, tensors);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_train_shard: %s\n", e.what());
      rc = 1;
    }
  } else {
    std::fprintf(stderr,
                 "usage: mpirun -np W bench_train_shard none|optimizer|gradients|parameters [checkpointing] "
                 "[bf16] [noprefetch] [cuda] [1b]\n");
  }
  MPI_Finalize();
  return rc;
}
