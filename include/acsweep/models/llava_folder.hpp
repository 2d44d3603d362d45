#pragma once
// A finished Stage-2 model written as LLaVA-1.5 releases its checkpoints, so that LLaVA's loader
// (and lmms-eval's `llava` model through it) and transformers' LlamaForCausalLM can read it:
//  - model-0000k-of-0000n.safetensors, at most `shard_bytes` each, and model.safetensors.index.json
//    (metadata.total_size, weight_map) in LLaVA's names: the LLM's own and model.mm_projector.*;
//  - config.json: the base LLM's, with LLaVA's multimodal keys (mm_projector_type mlp2x_gelu,
//    mm_hidden_size, mm_vision_tower, mm_vision_select_layer, mm_vision_select_feature patch,
//    image_aspect_ratio, mm_use_im_start_end false, architectures LlavaLlamaForCausalLM);
//  - the base LLM's tokenizer and generation files, copied (and a tokenizer.model kept elsewhere).
// Written into a temporary folder and renamed, so a folder that exists is complete.
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "acsweep/models/safetensors.hpp"

namespace acsweep::models {

struct LlavaMetadata {
  std::string vision_tower;  // the encoder folder(s), joined by '+' for a combination
  std::int64_t vision_hidden = 0;
  int select_layer = -2;
  bool pad_to_square = false;
  std::string tokenizer_model;  // the job's tokenizer file, copied as tokenizer.model (or tokenizer.json)
                                // when the base folder has none
};

// std::runtime_error naming the file when a write fails; InputError when the base folder lacks
// config.json.
void write_llava_folder(const std::string& folder,
                        const std::vector<std::pair<std::string, torch::Tensor>>& named,
                        const std::string& base_llm_folder, const LlavaMetadata& metadata,
                        DType dtype = DType::BF16, std::int64_t shard_bytes = std::int64_t{5} << 30);

}  // namespace acsweep::models
