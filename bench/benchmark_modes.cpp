// A benchmark answered both ways on the same model: likelihood (the likeliest option letter, one
// forward pass per option) against generate (greedy generation until the EOS, then parsed), in
// items per second, side by side.
//   python tests/fixtures/tiny_world.py /tmp/w 2 && bench_benchmark_modes /tmp/w [max_new_tokens]
//   bench_benchmark_modes results/demo/world 16 encoders/dino-p8 benchmarks/shape.jsonl
// A world's multiple-choice benchmark (by default the tiny world's shapes.jsonl; images relative
// to the benchmark's folder) with its LLM (WORLD/llm) and an encoder (by default encoders/dino),
// an untrained projector. On the tiny world no EOS comes and every answer runs to max_new_tokens
// (generation's worst case); the demo world's LLM, trained on the world's text, stops at its EOS:
// the tokens generated per item are printed.
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "acsweep/eval/evaluate.hpp"
#include "acsweep/models/multimodal.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "best_of.hpp"

int main(int argc, char** argv) {
  using namespace acsweep;
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_benchmark_modes WORLD [max_new_tokens [ENCODER BENCHMARK.jsonl]]\n");
    return 2;
  }
  const std::string world = argv[1];
  const std::int64_t max_new = argc > 2 ? std::stoll(argv[2]) : 16;
  const std::string encoder = world + "/" + (argc > 4 ? argv[3] : "encoders/dino");
  const std::string file = world + "/" + (argc > 4 ? argv[4] : "shapes.jsonl");
  auto llm = models::load_llama(world + "/llm");
  const models::Tokenizer tokenizer(world + "/llm/tokenizer.model");
  std::vector<std::unique_ptr<models::VisionEncoder>> members;
  members.push_back(models::load_vision_encoder(encoder));
  models::VisionRepresentation representation(std::move(members));
  torch::manual_seed(5);
  models::Projector projector(representation.channels(), llm->config().hidden_size);
  const auto benchmark = eval::read_benchmark(file, std::filesystem::path(file).parent_path().string(),
                                              eval::BenchmarkKind::multiple_choice, "bench");
  const double n = static_cast<double>(benchmark.items.size());
  const double likelihood =
      best_seconds(2, [&] { eval::choose_answers(benchmark, llm, projector, representation, tokenizer); });
  std::printf("%zu items, %d threads; likelihood: %.1f items/s\n", benchmark.items.size(),
              torch::get_num_threads(), n / likelihood);
  for (const std::size_t batch : {1, 8}) {
    std::vector<std::optional<std::string>> texts;
    const double generate = best_seconds(2, [&] {
      texts = eval::generate_answers(benchmark, llm, projector, representation, tokenizer, {max_new, batch});
    });
    double tokens = 0;  // generated per item: the EOS may come before max_new_tokens
    for (const auto& text : texts) tokens += text ? static_cast<double>(tokenizer.encode(*text).size()) : 0.0;
    std::printf(
        "generate (at most %lld new tokens, batch %zu; %.1f generated per item): %.1f items/s, %.2fx "
        "likelihood's time\n",
        static_cast<long long>(max_new), batch, tokens / n, n / generate, generate / likelihood);
  }
  return 0;
}
