#include "acsweep/models/torch_weights.hpp"

#include "acsweep/error.hpp"

namespace acsweep::models {
namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace

torch::Tensor to_tensor(const TensorView& view) {
  std::vector<float> values = view.to_float();
  return torch::from_blob(values.data(), view.shape, torch::kFloat32).clone();
}

void load_parameters(torch::nn::Module& module, const SafetensorsFolder& weights, const std::string& prefix) {
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters()) {
    const std::string key = prefix + item.key();
    if (!weights.contains(key)) throw InputError(weights.folder() + ": missing weight '" + key + "'");
    const TensorView& view = weights.tensor(key);
    const auto expected = item.value().sizes().vec();
    if (view.shape != expected)
      throw InputError(weights.folder() + ": weight '" + key + "' has shape " + shape_text(view.shape) +
                       ", the model needs " + shape_text(expected));
    const torch::Tensor value = to_tensor(view);
    if (!torch::isfinite(value).all().item<bool>())
      throw InputError(weights.folder() + ": weight '" + key + "' holds NaN or infinite values");
    item.value().copy_(value);
  }
}

void save_parameters(torch::nn::Module& module, const std::string& path, const std::string& prefix,
                     const std::map<std::string, std::string>& metadata) {
  std::map<std::string, TensorData> tensors;
  for (const auto& item : module.named_parameters()) {
    const auto value = item.value().detach().to(torch::kCPU, torch::kFloat32).contiguous();
    tensors[prefix + item.key()] = {
        value.sizes().vec(),
        std::vector<float>(value.data_ptr<float>(), value.data_ptr<float>() + value.numel()), DType::F32};
  }
  write_safetensors(path, tensors, metadata);
}

}  // namespace acsweep::models
