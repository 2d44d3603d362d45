// Greedy generation in acsweep (models::generate_greedy) with the KV cache and without it (every
// step reruns the whole sequence: the baseline), on a Llama folder and prompts that
// bench/generate_vs_transformers.py writes, which also times transformers' generate() on the same
// model, prompts and threads and prints the ratios.
//   bench_generate FOLDER cache|nocache   ->  one JSON line: seconds, new tokens/s, the tokens
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "acsweep/models/generate.hpp"
#include "best_of.hpp"

int main(int argc, char** argv) {
  using namespace acsweep;
  if (argc != 3) {
    std::fprintf(stderr, "usage: bench_generate FOLDER cache|nocache\n");
    return 2;
  }
  const std::filesystem::path folder = argv[1];
  const nlohmann::json setup = nlohmann::json::parse(std::ifstream(folder / "prompts.json"));
  auto llm = models::load_llama(folder.string());
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> prompts;
  for (const auto& row : setup["prompts"])
    prompts.push_back(llm->embed(torch::tensor(row.get<std::vector<std::int64_t>>(), torch::kInt64)));
  models::GenerationOptions options;
  options.max_new_tokens = setup["max_new_tokens"].get<std::int64_t>();
  options.use_cache = std::string(argv[2]) == "cache";
  std::vector<std::vector<std::int64_t>> rows;
  const double seconds = best_seconds(2, [&] { rows = models::generate_greedy(llm, prompts, options); });
  std::size_t tokens = 0;
  for (const auto& r : rows) tokens += r.size();
  std::printf("%s\n", nlohmann::json({{"mode", argv[2]},
                                      {"seconds", seconds},
                                      {"tokens_per_s", static_cast<double>(tokens) / seconds},
                                      {"tokens", rows}})
                          .dump()
                          .c_str());
  return 0;
}
