// Qwen2's forward pass and tokenizer.json's byte-level BPE in acsweep's C++, timed.
// bench/qwen2_vs_transformers.py writes the model and the tokenizer, runs this, and runs the same
// in transformers and tokenizers beside it.
//   bench_qwen2 MODEL_FOLDER THREADS TEXTS_JSON  ->  one JSON line
// MODEL_FOLDER holds config.json, model.safetensors and tokenizer.json; TEXTS_JSON a list of texts.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "acsweep/models/llama.hpp"
#include "acsweep/models/tokenizer.hpp"
#include "acsweep/models/torch_runtime.hpp"
#include "best_of.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: bench_qwen2 MODEL_FOLDER THREADS TEXTS_JSON\n");
    return 2;
  }
  acsweep::models::keep_tensor_memory_for_reuse();  // as the acsweep executable does
  const std::string folder = argv[1];
  at::set_num_threads(std::stoi(argv[2]));
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);

  auto llm = acsweep::models::load_llama(folder);
  const std::int64_t tokens = 512;
  const auto ids = torch::randint(0, llm->config().vocab_size, {1, tokens});
  const double forward = best_seconds(5, [&] { llm->forward(llm->embed(ids)); });

  // The tokenizer: every text encoded once per run, one thread (as transformers calls it per text).
  const acsweep::models::Tokenizer tokenizer(folder + "/tokenizer.json");
  const auto texts = nlohmann::json::parse(std::ifstream(argv[3])).get<std::vector<std::string>>();
  std::size_t bytes = 0, count = 0;
  for (const auto& t : texts) bytes += t.size();
  const double encode = best_seconds(3, [&] {
    count = 0;
    for (const auto& t : texts) count += tokenizer.encode(t).size();
  });
  std::printf(
      "{\"llm_tokens_per_s\": %.4f, \"tokenizer_texts_per_s\": %.2f, \"tokenizer_mb_per_s\": %.4f, "
      "\"tokens\": %zu}\n",
      static_cast<double>(tokens) / forward, static_cast<double>(texts.size()) / encode,
      static_cast<double>(bytes) / encode / 1e6, count);
  return 0;
}
