#include "acsweep/models/vision_encoder.hpp"

#include <torch/script.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "acsweep/bounded_read.hpp"
#include "acsweep/error.hpp"
#include "acsweep/models/diffusion_config.hpp"
#include "acsweep/models/diffusion_features.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"
#include "acsweep/models/vision_transformer.hpp"
#include "acsweep/path_checks.hpp"

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

// acsweep_encoder.json beside a traced module, validated.
struct Sidecar {
  std::string module_path, layout;
  std::int64_t channels = 0, patch_size = 0, prefix_tokens = 0;
};

Sidecar read_sidecar(const std::string& folder) {
  const std::string sidecar = (fs::path(folder) / sidecar_name).string();
  const std::string text = read_bounded(sidecar, kMaxConfigBytes, "the encoder's sidecar");
  Sidecar out;
  try {
    const auto doc = nlohmann::json::parse(text);
    out.module_path = (fs::path(folder) / doc.at("module").get<std::string>()).string();
    out.layout = doc.at("output_layout").get<std::string>();
    out.channels = doc.at("channels").get<std::int64_t>();
    if (out.layout == "BLC") {
      out.patch_size = doc.at("patch_size").get<std::int64_t>();
      out.prefix_tokens = doc.value("prefix_tokens", std::int64_t{0});
    }
  } catch (const nlohmann::json::exception& e) {
    throw InputError(sidecar + ": " + e.what());
  }
  if (out.layout != "BLC" && out.layout != "BCHW")
    throw InputError(sidecar + ": output_layout '" + out.layout + "' is not BLC or BCHW");
  if (out.channels <= 0 || (out.layout == "BLC" && out.patch_size <= 0))
    throw InputError(sidecar + ": channels and patch_size must be positive");
  return out;
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
    const auto sidecar = read_sidecar(folder);
    module_path_ = sidecar.module_path;
    layout_ = sidecar.layout;
    channels_ = sidecar.channels;
    patch_size_ = sidecar.patch_size;
    prefix_tokens_ = sidecar.prefix_tokens;
    preprocessor_ = data::read_preprocessor_config((fs::path(folder) / "preprocessor_config.json").string());
    preprocessor_.pad_to_square = options.pad_to_square;
    if (options.resolution > 0)
      set_resolution(preprocessor_, options.resolution, std::max<std::int64_t>(patch_size_, 1), folder);
    if (!fs::is_regular_file(module_path_))
      throw InputError((fs::path(folder) / sidecar_name).string() + ": module " + module_path_ +
                       " not found");
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

// A diffusers pipeline's input: the image resized (bicubic, as PIL's default) to a square of the
// job's resolution or the model's own, and scaled to [-1, 1], as the paper's DiffImageProcessor.
data::ImagePreprocessor diffusion_preprocessor(const std::string& folder, const DiffusionGeometry& g,
                                               const EncoderOptions& options) {
  const auto resolution = options.resolution > 0 ? options.resolution : static_cast<int>(g.native);
  if (resolution <= 0 || resolution % g.multiple != 0)
    throw InputError(folder + ": resolution " + std::to_string(resolution) + " is not a multiple of " +
                     std::to_string(g.multiple) + " (the VAE's and the denoiser's down-sampling together)");
  if (g.max_side > 0 && resolution > g.max_side)
    throw InputError(folder + ": resolution " + std::to_string(resolution) + " is more than the " +
                     std::to_string(g.max_side) + " pixels the transformer has positions for");
  data::ImagePreprocessor p;
  p.resample = data::Resample::bicubic;
  p.shortest_edge = 0;
  p.resize_width = p.resize_height = resolution;
  p.do_center_crop = false;
  p.image_mean = {0.5, 0.5, 0.5};
  p.image_std = {0.5, 0.5, 0.5};
  p.pad_to_square = options.pad_to_square;
  return p;
}

class DiffusionEncoder : public VisionEncoder {
 public:
  DiffusionEncoder(const std::string& folder, const EncoderOptions& options)
      : model_(folder, {options.diffusion_block, 1, options.dit_null_class}), seed_(options.noise_seed) {
    folder_ = folder;
    preprocessor_ = diffusion_preprocessor(folder, model_.geometry(), options);
  }
  torch::Tensor features(const torch::Tensor& pixels) override {
    const auto f = model_.latent_factor();
    std::vector<torch::Tensor> parts;
    for (std::int64_t begin = 0; begin < pixels.size(0); begin += kDiffusionImagesPerPass) {
      const auto images = pixels.slice(0, begin, std::min(pixels.size(0), begin + kDiffusionImagesPerPass));
      std::vector<torch::Tensor> noise;
      for (std::int64_t b = 0; b < images.size(0); ++b)
        noise.push_back(
            image_noise(images[b], seed_, model_.latent_channels(), images.size(2) / f, images.size(3) / f));
      parts.push_back(model_.features(images, torch::stack(noise).to(images.device())));
    }
    return parts.size() == 1 ? parts.front() : torch::cat(parts);
  }
  std::int64_t channels() const override { return model_.channels(); }
  void to(torch::Device device) override { model_.to(device); }

 private:
  DiffusionFeatures model_;
  std::uint64_t seed_;
};

// Whether `name` is a weight of a block after `block` under `prefix` ("up_blocks.", "transformer_blocks.").
bool later_block(const std::string& name, const std::string& prefix, std::int64_t block) {
  if (name.rfind(prefix, 0) != 0) return false;
  const auto index = name.substr(prefix.size(), name.find('.', prefix.size()) - prefix.size());
  if (index.empty() || index.size() > 4 || index.find_first_not_of("0123456789") != std::string::npos)
    return false;
  return std::stoll(index) > block;
}

// float32 bytes of the weights a diffusion setting loads: the VAE's encoder, the U-Net or transformer up to
// the chosen block, and the conditioning encoders, from the safetensors headers. A part whose weights
// are not there yet counts nothing (as a traced module not yet exported).
std::int64_t diffusion_weight_bytes(const std::string& folder, std::int64_t block, bool null_class) {
  std::int64_t elements = 0;
  const auto count = [&](const char* part, const std::function<bool(const std::string&)>& used) {
    const auto path = fs::path(folder) / part;
    bool present = false;
    for (const char* name :
         {"model.safetensors", "model.safetensors.index.json", "diffusion_pytorch_model.safetensors",
          "diffusion_pytorch_model.safetensors.index.json"})
      present = present || path_exists((path / name).string());
    if (!present) return;
    const SafetensorsFolder weights(path.string());
    for (const auto& name : weights.names())
      if (used(name)) elements += weights.tensor(name).numel();
  };
  count("vae",
        [](const std::string& n) { return n.rfind("encoder.", 0) == 0 || n.rfind("quant_conv.", 0) == 0; });
  count("unet", [&](const std::string& n) {
    return n.rfind("conv_norm_out.", 0) != 0 && n.rfind("conv_out.", 0) != 0 &&
           !later_block(n, "up_blocks.", block);
  });
  // DiT and SD3: no output head; DiT: no class embedding unless the null class conditions it
  count("transformer", [&](const std::string& n) {
    return n.rfind("proj_out", 0) != 0 && n.rfind("norm_out.", 0) != 0 &&
           (null_class || n.find(".class_embedder.") == std::string::npos) &&
           !later_block(n, "transformer_blocks.", block);
  });
  for (const char* part : {"text_encoder", "text_encoder_2", "image_encoder"})
    count(part, [](const std::string&) { return true; });
  return 4 * elements;
}

}  // namespace

std::unique_ptr<VisionEncoder> load_vision_encoder(const std::string& folder, const EncoderOptions& options) {
  if (!fs::is_directory(folder)) throw InputError(folder + ": encoder folder not found");
  if (fs::exists(fs::path(folder) / sidecar_name))
    return std::make_unique<TorchScriptEncoder>(folder, options);
  if (is_diffusion_folder(folder)) return std::make_unique<DiffusionEncoder>(folder, options);
  const auto config = read_vision_tower_config((fs::path(folder) / "config.json").string());
  if (config.family == VisionFamily::dinov2)
    return std::make_unique<NativeEncoder<Dinov2>>(folder, config, options);
  return std::make_unique<NativeEncoder<VisionTransformer>>(folder, config, options);
}

EncoderShape encoder_shape(const std::string& folder, const EncoderOptions& options) {
  if (!fs::is_directory(folder)) throw InputError(folder + ": encoder folder not found");
  EncoderShape shape;
  if (is_diffusion_folder(folder)) {
    const auto g = diffusion_geometry(folder, options.diffusion_block);
    const auto side = diffusion_preprocessor(folder, g, options).resize_width;
    shape.channels = g.channels;
    shape.grid_width = shape.grid_height = side / g.feature_factor;
    shape.weight_bytes = diffusion_weight_bytes(folder, g.block, options.dit_null_class);
    shape.activation_bytes = diffusion_activation_bytes(folder, g, side);
    shape.images_per_pass = kDiffusionImagesPerPass;
    return shape;
  }
  auto preprocessor =
      data::read_preprocessor_config((fs::path(folder) / "preprocessor_config.json").string());
  std::int64_t patch = 0, per_token = 0, prefix_tokens = 0;
  if (fs::exists(fs::path(folder) / sidecar_name)) {
    const auto sidecar = read_sidecar(folder);
    shape.channels = sidecar.channels;
    patch = sidecar.patch_size;
    std::error_code ec;
    const auto bytes = fs::file_size(sidecar.module_path, ec);
    shape.weight_bytes = ec ? 0 : static_cast<std::int64_t>(bytes);  // the traced module's size
  } else {
    const auto c = read_vision_tower_config((fs::path(folder) / "config.json").string());
    shape.channels = c.hidden_size;
    patch = c.patch_size;
    // Patch and position embeddings, then per layer attention (q, k, v, o with biases), the MLP
    // and two norms; float32 on the device.
    const std::int64_t h = c.hidden_size, positions = c.grid() * c.grid() + 1 + c.num_register_tokens;
    const std::int64_t layer =
        4 * (h * h + h) + 2 * h * c.intermediate_size + c.intermediate_size + h + 4 * h;
    shape.weight_bytes =
        4 * (3 * c.patch_size * c.patch_size * h + h + positions * h + c.num_hidden_layers * layer);
    // A layer's peak per token: the residual stream, its norm, q, k, v and the attention's output,
    // then the MLP's hidden layer before and after its activation.
    per_token = 4 * (6 * h + 2 * c.intermediate_size);
    prefix_tokens = 1 + c.num_register_tokens;
  }
  if (options.resolution > 0)
    set_resolution(preprocessor, options.resolution, std::max<std::int64_t>(patch, 1), folder);
  if (patch > 0) {
    try {
      const auto [w, h] = preprocessor.input_size();
      shape.grid_width = w / patch;
      shape.grid_height = h / patch;
      shape.activation_bytes = per_token * (shape.grid_width * shape.grid_height + prefix_tokens);
    } catch (const std::logic_error&) {
      // the grid depends on each image (no center crop): left unknown
    }
  }
  return shape;
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
