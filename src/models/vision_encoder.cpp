#include "acsweep/models/vision_encoder.hpp"

#include <torch/script.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "acsweep/error.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"
#include "acsweep/models/vision_transformer.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;

constexpr const char* sidecar_name = "acsweep_encoder.json";

// [B, L, C] patch tokens on a gh x gw grid -> [B, C, gh, gw].
torch::Tensor tokens_to_grid(const torch::Tensor& tokens, std::int64_t gh, std::int64_t gw) {
  return tokens.transpose(1, 2).reshape({tokens.size(0), tokens.size(2), gh, gw});
}

// A changed resolution keeps the preprocessor's proportions: crop = resolution, and a shortest
// edge scaled with it (DINOv2's 256 -> 224 stays 8/7).
void set_resolution(data::ImagePreprocessor& p, int resolution, std::int64_t patch,
                    const std::string& folder) {
  if (resolution % patch != 0)
    throw InputError(folder + ": resolution " + std::to_string(resolution) +
                     " is not a multiple of the patch size " + std::to_string(patch));
  if (p.do_center_crop) {
    if (p.shortest_edge > 0)
      p.shortest_edge = static_cast<int>(std::lround(1.0 * p.shortest_edge * resolution / p.crop_width));
    p.crop_width = p.crop_height = resolution;
  } else {
    p.shortest_edge = 0;
    p.resize_width = p.resize_height = resolution;
  }
}

template <typename Tower>
class NativeEncoder : public VisionEncoder {
 public:
  NativeEncoder(const std::string& folder, const VisionTowerConfig& config, const EncoderOptions& options)
      : tower_(config), layer_(options.layer) {
    folder_ = folder;
    preprocessor_ = data::read_preprocessor_config((fs::path(folder) / "preprocessor_config.json").string());
    preprocessor_.pad_to_square = options.pad_to_square;
    if (options.resolution > 0) set_resolution(preprocessor_, options.resolution, config.patch_size, folder);
    hidden_state_index(layer_, config.num_hidden_layers,
                       folder.c_str());  // an impossible layer fails at load
    tower_->load(SafetensorsFolder(folder));
    tower_->eval();
  }
  torch::Tensor features(const torch::Tensor& pixels) override {
    const auto P = tower_->config().patch_size;
    return tokens_to_grid(tower_->patches(pixels, layer_), pixels.size(2) / P, pixels.size(3) / P);
  }
  std::int64_t channels() const override { return tower_->config().hidden_size; }
  void to(torch::Device device) override { tower_->to(device); }

 private:
  Tower tower_;
  int layer_;
};

class TorchScriptEncoder : public VisionEncoder {
 public:
  TorchScriptEncoder(const std::string& folder, const EncoderOptions& options) {
    folder_ = folder;
    const std::string sidecar = (fs::path(folder) / sidecar_name).string();
    std::ifstream in(sidecar);
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(in);
      module_path_ = (fs::path(folder) / doc.at("module").get<std::string>()).string();
      layout_ = doc.at("output_layout").get<std::string>();
      channels_ = doc.at("channels").get<std::int64_t>();
      if (layout_ == "BLC") {
        patch_size_ = doc.at("patch_size").get<std::int64_t>();
        prefix_tokens_ = doc.value("prefix_tokens", std::int64_t{0});
      }
    } catch (const nlohmann::json::exception& e) {
      throw InputError(sidecar + ": " + e.what());
    }
    if (layout_ != "BLC" && layout_ != "BCHW")
      throw InputError(sidecar + ": output_layout '" + layout_ + "' is not BLC or BCHW");
    if (channels_ <= 0 || (layout_ == "BLC" && patch_size_ <= 0))
      throw InputError(sidecar + ": channels and patch_size must be positive");
    preprocessor_ = data::read_preprocessor_config((fs::path(folder) / "preprocessor_config.json").string());
    preprocessor_.pad_to_square = options.pad_to_square;
    if (options.resolution > 0)
      set_resolution(preprocessor_, options.resolution, std::max<std::int64_t>(patch_size_, 1), folder);
    if (!fs::is_regular_file(module_path_))
      throw InputError(sidecar + ": module " + module_path_ + " not found");
    try {
      module_ = torch::jit::load(module_path_);
    } catch (const c10::Error& e) {
      throw InputError(module_path_ + ": not a loadable TorchScript module (" + e.what_without_backtrace() +
                       ")");
    }
    module_.eval();
  }
  torch::Tensor features(const torch::Tensor& pixels) override {
    const torch::Tensor out = module_.forward({pixels}).toTensor();
    const auto check = [&](bool ok, const std::string& what) {
      if (!ok) throw std::runtime_error(module_path_ + ": output " + what);
    };
    if (layout_ == "BCHW") {
      check(out.dim() == 4 && out.size(1) == channels_,
            "is not [B, " + std::to_string(channels_) + ", H, W]");
      return out;
    }
    const auto gh = pixels.size(2) / patch_size_, gw = pixels.size(3) / patch_size_;
    check(out.dim() == 3 && out.size(1) == prefix_tokens_ + gh * gw && out.size(2) == channels_,
          "is not [B, " + std::to_string(prefix_tokens_ + gh * gw) + ", " + std::to_string(channels_) + "]");
    return tokens_to_grid(out.slice(1, prefix_tokens_), gh, gw);
  }
  std::int64_t channels() const override { return channels_; }
  void to(torch::Device device) override { module_.to(device); }

 private:
  std::string module_path_, layout_;
  std::int64_t channels_ = 0, patch_size_ = 0, prefix_tokens_ = 0;
  torch::jit::Module module_;
};

}  // namespace

std::unique_ptr<VisionEncoder> load_vision_encoder(const std::string& folder, const EncoderOptions& options) {
  if (!fs::is_directory(folder)) throw InputError(folder + ": encoder folder not found");
  if (fs::exists(fs::path(folder) / sidecar_name))
    return std::make_unique<TorchScriptEncoder>(folder, options);
  const auto config = read_vision_tower_config((fs::path(folder) / "config.json").string());
  if (config.family == VisionFamily::dinov2)
    return std::make_unique<NativeEncoder<Dinov2>>(folder, config, options);
  return std::make_unique<NativeEncoder<VisionTransformer>>(folder, config, options);
}

torch::Tensor pixel_batch(const std::vector<data::PreprocessedImage>& images) {
  std::vector<torch::Tensor> planes;
  for (const auto& image : images) {
    if (image.width != images.front().width || image.height != images.front().height)
      throw std::invalid_argument("pixel_batch: images of different sizes");
    planes.push_back(torch::from_blob(const_cast<float*>(image.pixels.data()), {3, image.height, image.width},
                                      torch::kFloat32));
  }
  return torch::stack(planes);  // copies, so the images may go
}

}  // namespace acsweep::models
