// Loading an LLM the way acsweep does (models::load_llama: made a part at a time, each part filled
// from the memory-mapped safetensors and moved to its device and dtype before the next is made)
// against the way it did before, which is the baseline: the whole model made in float32 on the
// host, filled, then moved.
//   bench_llama_load write FOLDER [1b]             a random Llama in BF16, as checkpoints ship
//   bench_llama_load streamed|whole FOLDER [cuda] [bf16]   ->  one JSON line
// with the load time, the host's peak of tensor bytes (bench/tensor_memory.hpp: what LibTorch
// allocated on the CPU at once), the peak resident set (which also counts the mapped file's pages
// as they are read: the page cache, given back under pressure), the model's own bytes where it
// ends, and on CUDA the GPU's peak allocated. bench/llama_load.sh runs both and prints the ratios.
//  - the CPU shape: a Llama of about 106M parameters (hidden 768, 8 layers, vocabulary 32000);
//  - `1b`: 1.1B parameters (TinyLlama's shape: hidden 2048, 22 layers, 32 heads, 4 KV heads).
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "acsweep/models/llama.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_runtime.hpp"
#include "acsweep/models/torch_weights.hpp"
#include "tensor_memory.hpp"

namespace {
using namespace acsweep;
namespace fs = std::filesystem;

models::LlamaConfig shape(bool large) {
  return large ? models::llama_config({32000, 2048, 5632, 22, 32, 4, 64}, 2048)
               : models::llama_config({32000, 768, 2048, 8, 12, 12, 64}, 1024);
}

void write(const fs::path& folder, bool large) {
  const auto c = shape(large);
  fs::create_directories(folder);
  std::ofstream(folder / "config.json")
      << "{\"model_type\": \"llama\", \"vocab_size\": " << c.vocab_size
      << ", \"hidden_size\": " << c.hidden_size << ", \"intermediate_size\": " << c.intermediate_size
      << ", \"num_hidden_layers\": " << c.num_hidden_layers
      << ", \"num_attention_heads\": " << c.num_attention_heads
      << ", \"num_key_value_heads\": " << c.num_key_value_heads
      << ", \"max_position_embeddings\": " << c.max_position_embeddings
      << ", \"torch_dtype\": \"bfloat16\"}\n";
  torch::manual_seed(0);
  models::LlamaForCausalLM llm(c);
  std::map<std::string, models::TensorData> tensors;
  for (const auto& p : llm->named_parameters()) {
    const auto v = p.value().detach().contiguous();
    tensors[p.key()] = {v.sizes().vec(),
                        std::vector<float>(v.data_ptr<float>(), v.data_ptr<float>() + v.numel()),
                        models::DType::BF16};
    p.value().set_data(torch::empty({0}));  // one copy of each weight at a time
  }
  models::write_safetensors((folder / "model.safetensors").string(), tensors);
}

int load(const std::string& how, const fs::path& folder, bool cuda, bool bf16, TensorMemory& tensors) {
  const models::LoadTarget target{cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU),
                                  bf16 ? torch::kBFloat16 : torch::kFloat32};
  const auto start = std::chrono::steady_clock::now();
  models::LlamaForCausalLM llm{nullptr};
  if (how == "streamed") {
    llm = models::load_llama(folder.string(), target);
  } else {  // the baseline: whole on the host in float32, then moved
    llm = models::LlamaForCausalLM(models::read_llama_config((folder / "config.json").string()));
    models::load_parameters(*llm, models::SafetensorsFolder(folder.string()));
    llm->to(target.device, target.dtype);
  }
  if (cuda) torch::cuda::synchronize();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::int64_t model_bytes = 0;
  for (const auto& p : llm->parameters())
    model_bytes += p.numel() * static_cast<std::int64_t>(p.element_size());
  std::printf(
      "{\"how\": \"%s\", \"device\": \"%s\", \"dtype\": \"%s\", \"parameters\": %lld, \"seconds\": %.3f, "
      "\"model_bytes\": %lld, \"host_tensor_peak_bytes\": %lld, \"host_tensor_bytes_after\": %lld, "
      "\"host_peak_resident_bytes\": %lld, \"gpu_peak_allocated_bytes\": %lld}\n",
      how.c_str(), cuda ? "cuda" : "cpu", bf16 ? "bf16" : "fp32",
      static_cast<long long>(model_bytes / (bf16 ? 2 : 4)), seconds, static_cast<long long>(model_bytes),
      static_cast<long long>(tensors.peak()), static_cast<long long>(tensors.now()),
      static_cast<long long>(models::peak_memory_bytes(-1)),
      static_cast<long long>(cuda ? models::peak_memory_bytes(0) : 0));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage =
      "usage: bench_llama_load write FOLDER [1b] | bench_llama_load streamed|whole FOLDER [cuda] [bf16]\n";
  if (argc < 3) {
    std::fputs(usage.c_str(), stderr);
    return 2;
  }
  const std::string verb = argv[1];
  bool large = false, cuda = false, bf16 = false;
  for (int i = 3; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "1b")
      large = true;
    else if (word == "cuda")
      cuda = true;
    else if (word == "bf16")
      bf16 = true;
    else {
      std::fprintf(stderr, "bench_llama_load: unknown word '%s'\n%s", word.c_str(), usage.c_str());
      return 2;
    }
  }
  try {
    if (verb == "write") {
      write(argv[2], large);
      return 0;
    }
    if (verb != "streamed" && verb != "whole") {
      std::fputs(usage.c_str(), stderr);
      return 2;
    }
    auto& tensors = TensorMemory::install();
    return load(verb, argv[2], cuda, bf16, tensors);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_llama_load: %s\n", e.what());
    return 1;
  }
}
