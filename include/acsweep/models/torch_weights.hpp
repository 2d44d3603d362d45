#pragma once
// Filling a LibTorch module's parameters from safetensors by their Hugging Face names.
#include <torch/torch.h>

#include <map>
#include <string>

#include "acsweep/models/safetensors.hpp"

namespace acsweep::models {

// A float32 tensor holding the view's values (F16/BF16 widened).
torch::Tensor to_tensor(const TensorView& view);

// The view's values as a CPU tensor of their stored dtype over the mapped bytes themselves (no
// copy where they are aligned for it): valid while the file lives, and read-only, as the mapping is.
torch::Tensor mapped_tensor(const TensorView& view);

// Copies every parameter of `module` from `weights[prefix + name]`, straight from the mapped
// bytes into the parameter's dtype and device. A missing tensor, a shape that differs, or a
// non-finite value is an InputError naming the folder and the key.
void load_parameters(torch::nn::Module& module, const SafetensorsFolder& weights,
                     const std::string& prefix = "");

// Writes every parameter of `module` as float32 under `prefix + name` into a safetensors file
// (atomically), so load_parameters reads it back.
void save_parameters(torch::nn::Module& module, const std::string& path, const std::string& prefix = "",
                     const std::map<std::string, std::string>& metadata = {});

}  // namespace acsweep::models
