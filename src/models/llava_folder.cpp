#include "acsweep/models/llava_folder.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "acsweep/error.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path.string() + ": not found");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path.string() + ": " + e.what());
  }
}

void write_json(const fs::path& path, const nlohmann::json& doc) {
  std::ofstream out(path);
  out << doc.dump(2) << "\n";
  if (!out) throw std::runtime_error(path.string() + ": write failed (is the disk full?)");
}

std::string shard_name(std::size_t k, std::size_t n) {
  char name[64];
  std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k, n);
  return name;
}

}  // namespace

void write_llava_folder(const std::string& folder,
                        const std::vector<std::pair<std::string, torch::Tensor>>& named,
                        const std::string& base_llm_folder, const LlavaMetadata& metadata, DType dtype,
                        std::int64_t shard_bytes) {
  auto config = read_json(fs::path(base_llm_folder) / "config.json");
  const fs::path final_dir(folder);
  const fs::path temporary = final_dir.string() + ".tmp-" + std::to_string(::getpid());
  fs::remove_all(temporary);
  fs::create_directories(temporary);

  // Shards in the parameters' order, each closed before it would pass shard_bytes.
  std::vector<std::vector<std::size_t>> shards(1);
  std::int64_t filled = 0, total = 0;
  for (std::size_t i = 0; i < named.size(); ++i) {
    const std::int64_t bytes = named[i].second.numel() * static_cast<std::int64_t>(size_of(dtype));
    if (filled > 0 && filled + bytes > shard_bytes) {
      shards.emplace_back();
      filled = 0;
    }
    shards.back().push_back(i);
    filled += bytes;
    total += bytes;
  }
  nlohmann::json weight_map = nlohmann::json::object();
  for (std::size_t k = 0; k < shards.size(); ++k) {
    const auto name = shard_name(k + 1, shards.size());
    std::map<std::string, TensorData> tensors;
    for (const auto i : shards[k]) {
      const auto cpu = named[i].second.detach().to(torch::kCPU, torch::kFloat32).contiguous();
      tensors[named[i].first] = {
          cpu.sizes().vec(), std::vector<float>(cpu.data_ptr<float>(), cpu.data_ptr<float>() + cpu.numel()),
          dtype};
      weight_map[named[i].first] = name;
    }
    write_safetensors((temporary / name).string(), tensors, {{"format", "pt"}});
  }
  write_json(temporary / "model.safetensors.index.json",
             {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}});

  // LLaVA's class for the decoder (LLaVA-NeXT's LlavaQwenForCausalLM for Qwen2); model_type stays
  // the LLM's, so that transformers loads the LLM from the folder by itself.
  config["architectures"] = {config.value("model_type", "") == "qwen2" ? "LlavaQwenForCausalLM"
                                                                       : "LlavaLlamaForCausalLM"};
  config["torch_dtype"] = dtype == DType::F32 ? "float32" : dtype == DType::F16 ? "float16" : "bfloat16";
  config["mm_projector_type"] = "mlp2x_gelu";
  config["mm_hidden_size"] = metadata.vision_hidden;
  config["mm_vision_tower"] = metadata.vision_tower;
  config["mm_vision_select_layer"] = metadata.select_layer;
  config["mm_vision_select_feature"] = "patch";
  config["image_aspect_ratio"] = metadata.pad_to_square ? "pad" : "square";
  config["mm_use_im_start_end"] = false;
  config["mm_use_im_patch_token"] = false;
  write_json(temporary / "config.json", config);
  for (const char* file : {"tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                           "special_tokens_map.json", "generation_config.json"}) {
    const auto from = fs::path(base_llm_folder) / file;
    if (fs::is_regular_file(from))
      fs::copy_file(from, temporary / file, fs::copy_options::overwrite_existing);
  }
  // The job's tokenizer, where the LLM folder's was another ([llm] tokenizer).
  if (!metadata.tokenizer_model.empty()) {
    const bool json = fs::path(metadata.tokenizer_model).extension() == ".json";
    const auto to = temporary / (json ? "tokenizer.json" : "tokenizer.model");
    if (!fs::exists(to)) fs::copy_file(metadata.tokenizer_model, to);
  }
  fs::remove_all(final_dir);
  fs::rename(temporary, final_dir);
}

}  // namespace acsweep::models
