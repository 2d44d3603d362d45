// The native vision towers against a float64 reference written differently
// (tests/models/vision_reference.py): CLIP (quick_gelu and gelu), SigLIP, SigLIP2 (its resized
// position table, at the checkpoint's grid and a non-square one), DINOv2 with and without
// registers (positions interpolated for another input size): hidden states of three layers to
// 1e-4 relative. Then the encoder interface: feature grids, TorchScript with its sidecar,
// combinations on a common grid, bad folders named.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>

#include "acsweep/error.hpp"
#include "acsweep/models/projector.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/models/vision_representation.hpp"
#include "acsweep/models/vision_transformer.hpp"
#include "temp_dir.hpp"
#include "tensor_checks.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;

using acsweep::testing::expect_close;

void write_reference(const fs::path& folder, const std::string& family, const std::string& extra = "") {
  const std::string command = ACSWEEP_PYTHON " " ACSWEEP_TESTS_DIR "/models/vision_reference.py " +
                              folder.string() + " " + family + " 5 " + extra;
  ASSERT_EQ(std::system(command.c_str()), 0);
}

struct Variant {
  const char* family;
  const char* act;
  bool other_size;  // the reference also ran a 24x20 input
};

void PrintTo(const Variant& v, std::ostream* os) {
  *os << v.family << (*v.act ? std::string(", ") + v.act : "")
      << (v.other_size ? ", and another input size" : "");
}

class TowerAgainstReference : public acsweep::testing::TempDirTest,
                              public ::testing::WithParamInterface<Variant> {};

template <typename Tower>
void check_tower(Tower& tower, const SafetensorsFile& expected, const std::string& size) {
  torch::NoGradGuard no_grad;
  const auto pixels = to_tensor(expected.tensor(size + "_pixels"));
  expect_close(tower->patches(pixels, -2), to_tensor(expected.tensor(size + "_penultimate_patches")),
               size + " penultimate");
  expect_close(tower->hidden_states(pixels, -1), to_tensor(expected.tensor(size + "_last_all")),
               size + " last");
  expect_close(tower->patches(pixels, 0), to_tensor(expected.tensor(size + "_embeddings_patches")),
               size + " embeddings");
  EXPECT_THROW(tower->hidden_states(pixels, 4), std::invalid_argument);
}

TEST_P(TowerAgainstReference, HiddenStatesAgree) {
  const Variant v = GetParam();
  write_reference(dir_, v.family, v.act);
  const auto config = read_vision_tower_config(path("config.json"));
  const SafetensorsFile expected(path("expected.safetensors"));
  const SafetensorsFolder weights(dir_.string());
  const auto check = [&](auto tower) {
    tower->load(weights);
    check_tower(tower, expected, "native");
    if (v.other_size) check_tower(tower, expected, "other");
  };
  if (config.family == VisionFamily::dinov2)
    check(Dinov2(config));
  else
    check(VisionTransformer(config));
}

INSTANTIATE_TEST_SUITE_P(Families, TowerAgainstReference,
                         ::testing::Values(Variant{"clip", "quick_gelu", false},
                                           Variant{"clip", "gelu", false}, Variant{"siglip", "", false},
                                           Variant{"siglip2", "", true}, Variant{"dinov2", "", true},
                                           Variant{"dinov2_registers", "", true}),
                         [](const auto& variant) {
                           return std::string(variant.param.family) + "_" + variant.param.act;
                         });

// transformers 5 saves a CLIPVisionModel without the vision_model. prefix of CLIPModel checkpoints.
TEST_F(TowerAgainstReference, ReadsWeightsSavedWithoutTheVisionModelPrefix) {
  write_reference(dir_, "clip", "quick_gelu");
  const auto config = read_vision_tower_config(path("config.json"));
  VisionTransformer prefixed(config), bare(config);
  prefixed->load(SafetensorsFolder(dir_.string()));
  fs::create_directories(dir_ / "bare");
  fs::copy_file(path("config.json"), dir_ / "bare/config.json");
  save_parameters(prefixed->body(), (dir_ / "bare/model.safetensors").string());
  EXPECT_FALSE(
      SafetensorsFolder((dir_ / "bare").string()).contains("vision_model.embeddings.patch_embedding.weight"));
  bare->load(SafetensorsFolder((dir_ / "bare").string()));
  torch::NoGradGuard no_grad;
  const auto pixels = torch::randn({1, 3, 16, 16});
  EXPECT_TRUE(torch::equal(bare->hidden_states(pixels, -1), prefixed->hidden_states(pixels, -1)));
  fs::remove(dir_ / "bare/model.safetensors");
  save_parameters(prefixed->body(), (dir_ / "bare/model.safetensors").string(), "other.");
  EXPECT_THROW(
      {
        try {
          bare->load(SafetensorsFolder((dir_ / "bare").string()));
        } catch (const InputError& e) {
          EXPECT_NE(std::string(e.what()).find("vision_model.embeddings"), std::string::npos) << e.what();
          throw;
        }
      },
      InputError);
}

class VisionEncoders : public acsweep::testing::TempDirTest {};

TEST_F(VisionEncoders, FeatureGridIsThePenultimateLayerAsAGrid) {
  write_reference(dir_ / "dino", "dinov2_registers");
  auto encoder = load_vision_encoder((dir_ / "dino").string());
  Dinov2 tower(read_vision_tower_config((dir_ / "dino/config.json").string()));
  load_parameters(*tower, SafetensorsFolder((dir_ / "dino").string()));
  torch::NoGradGuard no_grad;
  const auto pixels = torch::randn({2, 3, 16, 16});
  const auto grid = encoder->features(pixels);
  ASSERT_EQ(grid.sizes(), (std::vector<std::int64_t>{2, 32, 4, 4}));
  // Token t of the penultimate layer is cell (t / 4, t % 4) of the grid.
  const auto tokens = tower->patches(pixels, -2);
  EXPECT_TRUE(torch::allclose(grid[1].select(1, 2).select(1, 3), tokens[1][2 * 4 + 3]));
  EXPECT_EQ(encoder->channels(), 32);
  EXPECT_EQ(encoder->preprocessor().input_size(), (std::array<int, 2>{16, 16}));

  auto bigger = load_vision_encoder((dir_ / "dino").string(), {-1, 24, false});
  EXPECT_EQ(bigger->preprocessor().input_size(), (std::array<int, 2>{24, 24}));
  EXPECT_EQ(bigger->features(torch::randn({1, 3, 24, 24})).sizes(), (std::vector<std::int64_t>{1, 32, 6, 6}));
  EXPECT_THROW(load_vision_encoder((dir_ / "dino").string(), {-2, 22, false}),
               InputError);  // not a multiple of 4
  EXPECT_THROW(load_vision_encoder((dir_ / "dino").string(), {7, 0, false}), std::invalid_argument);
}

TEST_F(VisionEncoders, TorchScriptWithSidecar) {
  // A scripted module written by the .venv's torch: [B, 1 + L, C] tokens of an 8-pixel patch average.
  const std::string script = R"(
import json, sys, torch
class Patches(torch.nn.Module):
    def forward(self, x):
        t = torch.nn.functional.avg_pool2d(x, 8).flatten(2).transpose(1, 2)
        return torch.cat([torch.zeros_like(t[:, :1]), t], 1)
folder = sys.argv[1]
torch.jit.script(Patches()).save(folder + "/encoder.pt")
json.dump({"module": "encoder.pt", "output_layout": "BLC", "prefix_tokens": 1, "patch_size": 8, "channels": 3},
          open(folder + "/acsweep_encoder.json", "w"))
json.dump({"size": {"height": 16, "width": 16}, "image_mean": [0, 0, 0], "image_std": [1, 1, 1]},
          open(folder + "/preprocessor_config.json", "w"))
)";
  fs::create_directories(dir_ / "ts");
  std::ofstream(path("make.py")) << script;
  ASSERT_EQ(std::system((ACSWEEP_PYTHON " " + path("make.py") + " " + (dir_ / "ts").string()).c_str()), 0);
  auto encoder = load_vision_encoder((dir_ / "ts").string());
  const auto pixels = torch::randn({1, 3, 16, 16});
  const auto grid = encoder->features(pixels);
  ASSERT_EQ(grid.sizes(), (std::vector<std::int64_t>{1, 3, 2, 2}));
  EXPECT_NEAR(grid[0][1][1][0].item<double>(),
              pixels[0][1].slice(0, 8, 16).slice(1, 0, 8).mean().item<double>(), 1e-6);

  // A sidecar that disagrees with the module's output is an error naming the module.
  std::ofstream(dir_ / "ts/acsweep_encoder.json")
      << R"({"module": "encoder.pt", "output_layout": "BLC", "prefix_tokens": 1, "patch_size": 4, "channels": 3})";
  try {
    load_vision_encoder((dir_ / "ts").string())->features(pixels);
    ADD_FAILURE() << "16 patches expected, 4 given, and no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("encoder.pt: output is not [B, 17, 3]"), std::string::npos)
        << e.what();
  }

  std::ofstream(dir_ / "ts/acsweep_encoder.json")
      << R"({"module": "encoder.pt", "output_layout": "NHWC", "channels": 3})";
  try {
    load_vision_encoder((dir_ / "ts").string());
    ADD_FAILURE() << "a bad layout loaded";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("output_layout 'NHWC'"), std::string::npos) << e.what();
  }
}

TEST_F(VisionEncoders, CombinationsShareGeometryAndAGrid) {
  write_reference(dir_ / "clip", "clip", "quick_gelu");  // 16 px, patch 4: a 4x4 grid
  write_reference(dir_ / "dino", "dinov2");              // run at 24 px: a 6x6 grid
  std::vector<std::unique_ptr<VisionEncoder>> members;
  members.push_back(load_vision_encoder((dir_ / "clip").string()));
  members.push_back(load_vision_encoder((dir_ / "dino").string(), {-2, 24, false}));
  VisionRepresentation combined(std::move(members));
  EXPECT_EQ(combined.channels(), 64);

  data::Image image{30, 20, std::vector<std::uint8_t>(30 * 20 * 3)};
  for (std::size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = static_cast<std::uint8_t>(i * 7 % 251);
  torch::NoGradGuard no_grad;
  const auto encoded = combined.encode({image});
  ASSERT_EQ(encoded.features.sizes(), (std::vector<std::int64_t>{1, 64, 6, 6}));  // the finer grid
  EXPECT_EQ(encoded.transforms[0].input_width, 16);  // the first member's geometry

  // The second member's part equals DINOv2 run alone on the first member's 16x16 image resized to 24.
  auto dino = load_vision_encoder((dir_ / "dino").string(), {-2, 24, false});
  const auto first = load_vision_encoder((dir_ / "clip").string());
  const auto geometry = first->preprocessor().geometry(image);
  const auto alone = dino->features(pixel_batch(
      {dino->preprocessor().normalise({data::resize(geometry.image, 24, 24, data::Resample::bicubic),
                                       geometry.transform.then_resize(24, 24)})}));
  EXPECT_TRUE(torch::allclose(encoded.features.slice(1, 32), alone, 1e-5, 1e-5));
  // The first member's 4x4 grid was upsampled bilinearly: its corner cell is its own corner cell.
  const auto clip_alone = first->features(pixel_batch({first->preprocessor().normalise(geometry)}));
  EXPECT_EQ(clip_alone.sizes(), (std::vector<std::int64_t>{1, 32, 4, 4}));
  EXPECT_TRUE(torch::allclose(encoded.features[0].slice(0, 0, 32).select(1, 0).select(1, 0),
                              clip_alone[0].select(1, 0).select(1, 0), 1e-5, 1e-5));
}

TEST_F(VisionEncoders, BadFoldersAreNamed) {
  EXPECT_THROW(load_vision_encoder(path("nowhere")), InputError);
  write_reference(dir_ / "clip", "clip", "gelu");
  fs::remove(dir_ / "clip/preprocessor_config.json");
  EXPECT_THROW(load_vision_encoder((dir_ / "clip").string()), InputError);
  std::ofstream(dir_ / "clip/config.json") << R"({"model_type": "resnet"})";
  try {
    load_vision_encoder((dir_ / "clip").string());
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model_type 'resnet' is not a supported vision tower"),
              std::string::npos);
  }
}

TEST(Projector, LinearGeluLinear) {
  Projector projector(3, 4);
  torch::NoGradGuard no_grad;
  auto params = projector->named_parameters();
  ASSERT_TRUE(params.contains("0.weight") && params.contains("2.bias"));
  for (auto& p : params) p.value().zero_();
  params["0.weight"].copy_(torch::eye(4, 3));
  params["2.weight"].copy_(torch::eye(4));
  const auto out = projector->forward(torch::tensor({{1.0f, -1.0f, 2.0f}}));
  const auto gelu = [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); };
  EXPECT_NEAR(out[0][0].item<double>(), gelu(1.0), 1e-6);
  EXPECT_NEAR(out[0][1].item<double>(), gelu(-1.0), 1e-6);
  EXPECT_NEAR(out[0][2].item<double>(), gelu(2.0), 1e-6);
  EXPECT_NEAR(out[0][3].item<double>(), 0.0, 1e-6);
}

}  // namespace
}  // namespace acsweep::models
