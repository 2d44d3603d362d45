// One training step of a small Llama (forward, next-token cross-entropy, backward, AdamW) in
// acsweep's C++; bench/train_step_vs_pytorch.py runs the same step in PyTorch beside it.
//   bench_train_step THREADS  ->  one JSON line
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "acsweep/models/llama.hpp"
#include "acsweep/models/torch_runtime.hpp"
#include "acsweep/train/adamw.hpp"
#include "best_of.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bench_train_step THREADS\n");
    return 2;
  }
  acsweep::models::keep_tensor_memory_for_reuse();
  at::set_num_threads(std::stoi(argv[1]));
  torch::manual_seed(0);
  auto c = acsweep::models::llama_config({1000, 256, 688, 4, 8, 8, 32}, 512);
  c.rms_norm_eps = 1e-5;
  acsweep::models::LlamaForCausalLM llm(c);
  acsweep::train::AdamW optimizer(llm->parameters());
  const std::int64_t B = 4, T = 128;
  const auto ids = torch::randint(0, c.vocab_size, {B, T + 1});
  const auto inputs = ids.slice(1, 0, T), targets = ids.slice(1, 1).reshape({-1});
  const auto step = [&] {
    for (auto& p : llm->parameters()) p.mutable_grad() = torch::Tensor();
    const auto logits = llm->forward(llm->embed(inputs));
    const auto loss = torch::nll_loss(torch::log_softmax(logits.reshape({B * T, -1}), -1), targets);
    loss.backward();
    optimizer.step(1e-4);
  };
  const double best = best_seconds(5, step);
  std::printf("{\"step_s\": %.6f, \"tokens_per_s\": %.2f}\n", best, B * T / best);
  return 0;
}
