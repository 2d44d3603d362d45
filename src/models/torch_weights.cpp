#include "acsweep/models/torch_weights.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "acsweep/error.hpp"

namespace acsweep::models {
namespace {

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// Every value finite: then so are the smallest and the largest (a NaN makes both NaN). One pass
// with no temporaries, ten times isfinite(x).all()'s speed on a CPU.
bool all_finite(const torch::Tensor& values) {
  if (values.numel() == 0) return true;
  const auto [lowest, highest] = torch::aminmax(values);
  return std::isfinite(lowest.item<double>()) && std::isfinite(highest.item<double>());
}

}  // namespace

torch::Tensor to_tensor(const TensorView& view) {
  return mapped_tensor(view).to(torch::kFloat32, /*non_blocking=*/false, /*copy=*/true);
}

torch::Tensor mapped_tensor(const TensorView& view) {
  const auto dtype = view.dtype == DType::F32   ? torch::kFloat32
                     : view.dtype == DType::F16 ? torch::kFloat16
                                                : torch::kBFloat16;
  const auto at = reinterpret_cast<std::uintptr_t>(view.data);
  if (at % size_of(view.dtype) == 0)  // never written through: the tensor's users only read it
    return torch::from_blob(const_cast<std::byte*>(view.data), view.shape, torch::TensorOptions(dtype));
  auto copy = torch::empty(view.shape, torch::TensorOptions(dtype));  // unaligned in the file
  std::memcpy(copy.data_ptr(), view.data, view.bytes);
  return copy;
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
    const torch::Tensor value = mapped_tensor(view);
    if (!all_finite(value))
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
