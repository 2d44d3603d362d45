// acsweep's native diffusion features against diffusers itself: the tiny pipelines that
// tests/golden/diffusion_golden.py builds and runs (CTest writes them first, into ACSWEEP_GOLDEN; a
// missing case fails there). For SD1.5-like, SDXL-like and SD-image-variations-like pipelines: the
// VAE latents, the noised latents, what the U-Net attends to (the empty prompt through the
// pipeline's own text encoders, or the image's CLIP embedding), SDXL's pooled text, and the output
// of every up block taken as the feature map, all with diffusers' noise; for a DiT-like one, every
// transformer block's tokens as the paper's featurizer shapes them; for SD3-like and SD3.5-like ones
// (MMDiT), the same with the empty prompt from two CLIP encoders and T5's zeros, the pooled text, and
// flow-matching noise.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "acsweep/error.hpp"
#include "acsweep/models/diffusion_features.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "golden/golden_case.hpp"
#include "tensor_checks.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;
using acsweep::testing::expect_close;

torch::Tensor golden(const SafetensorsFile& file, const std::string& name) {
  return to_tensor(file.tensor(name));
}

// Every piece of the computation for the inputs under `prefix`, and each up block's output.
void check_case(const fs::path& folder, const std::vector<std::int64_t>& blocks,
                const std::string& prefix = "", bool null_class = false) {
  torch::NoGradGuard no_grad;
  const SafetensorsFile expected((folder / "golden.safetensors").string());
  const auto pixels = golden(expected, prefix + "pixels"), noise = golden(expected, prefix + "noise");
  for (const auto block : blocks) {
    DiffusionFeatures model(folder.string(), {block, 1, null_class});
    const auto latents = model.latents(pixels);
    expect_close(latents, golden(expected, prefix + "latents"), prefix + "latents");
    expect_close(model.noised(latents, noise), golden(expected, prefix + "noised"), prefix + "noised");
    if (expected.contains(prefix + "context"))
      expect_close(model.context(pixels), golden(expected, prefix + "context"), prefix + "context");
    if (expected.contains("pooled")) expect_close(model.pooled_text(), golden(expected, "pooled"), "pooled");
    const auto name = prefix + "up_" + std::to_string(block);
    expect_close(model.features(pixels, noise), golden(expected, name), name);
    EXPECT_EQ(model.channels(), expected.tensor(name).shape[1]) << name;
  }
}

// Loaded as a vision encoder with its feature map from block 1: the input side it takes by default,
// a forward's grid and channels as planned, and the weights it loads counted as the Python
// parameter count of what that block needs.
EncoderShape check_as_encoder(const fs::path& folder, std::int64_t own_side) {
  torch::NoGradGuard no_grad;
  EncoderOptions options;
  options.diffusion_block = 1;
  const auto shape = encoder_shape(folder.string(), options);
  auto encoder = load_vision_encoder(folder.string(), options);
  EXPECT_EQ(encoder->preprocessor().resize_width, own_side);
  const auto features = encoder->features(torch::rand({1, 3, own_side, own_side}) * 2 - 1);
  EXPECT_EQ(features.sizes(),
            (std::vector<std::int64_t>{1, shape.channels, shape.grid_height, shape.grid_width}));
  const SafetensorsFile expected((folder / "golden.safetensors").string());
  EXPECT_EQ(shape.weight_bytes,
            4 * static_cast<std::int64_t>(golden(expected, "parameters_up_1").item<double>()));
  return shape;
}

TEST(DiffusionGolden, StableDiffusionEveryUpBlockAsDiffusers) {
  REQUIRE_GOLDEN(folder, "sd15");
  check_case(folder, {0, 1, 2});
}

TEST(DiffusionGolden, StableDiffusionLatentNotAMultipleOfTheDownSampling) {
  REQUIRE_GOLDEN(folder, "sd15");
  check_case(folder, {0, 1}, "other_");
}

TEST(DiffusionGolden, StableDiffusionXlWithPooledTextAndSizeIds) {
  REQUIRE_GOLDEN(folder, "sdxl");
  check_case(folder, {0, 1, 2});
}

TEST(DiffusionGolden, ImageVariationsConditionedOnTheImage) {
  REQUIRE_GOLDEN(folder, "image_variation");
  check_case(folder, {0, 2});
}

TEST(DiffusionGolden, DiTEveryBlockConditionedOnTheTimestepAndStacked2x2) {
  REQUIRE_GOLDEN(folder, "dit");
  check_case(folder, {0, 1, 2});
  check_case(folder, {2}, "other_");  // a non-square grid, other than the trained one
}

TEST(DiffusionGolden, DiTConditionedOnTheNullClassAsDiffusersIs) {
  REQUIRE_GOLDEN(folder, "dit_null");
  check_case(folder, {0, 2}, "", true);
  check_case(folder, {2}, "other_", true);
  // As a vision encoder: the class table is loaded and counted.
  EncoderOptions options;
  options.diffusion_block = 1;
  options.dit_null_class = true;
  const SafetensorsFile expected((folder / "golden.safetensors").string());
  EXPECT_EQ(encoder_shape(folder.string(), options).weight_bytes,
            4 * static_cast<std::int64_t>(golden(expected, "parameters_up_1").item<double>()));
}

TEST(DiffusionGolden, SD3EveryBlockWithJointAttentionAndFlowMatchingNoise) {
  REQUIRE_GOLDEN(folder, "sd3");
  check_case(folder, {0, 1, 2});
  check_case(folder, {2}, "other_");  // a non-square grid: other learned positions cropped
}

TEST(DiffusionGolden, SD35WithQueryKeyNormsAndImageOnlyAttention) {
  REQUIRE_GOLDEN(folder, "sd35");
  check_case(folder, {0, 1, 2});
  check_case(folder, {1}, "other_");
}

TEST(DiffusionGolden, SD3AsAVisionEncoderWithinItsLearnedPositions) {
  REQUIRE_GOLDEN(folder, "sd3");
  const auto shape = check_as_encoder(folder, 16);  // sample_size 8 latents x the VAE's 2
  EXPECT_EQ(shape.channels, 4 * 16);
  EncoderOptions options;
  options.resolution = 48;  // 12 learned positions x patch 2 x the VAE's 2: the widest it takes
  EXPECT_NO_THROW(encoder_shape(folder.string(), options));
  options.resolution = 56;
  try {
    encoder_shape(folder.string(), options);
    FAIL() << "a grid wider than the learned positions accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("resolution 56"), std::string::npos) << e.what();
  }
}

// As a vision encoder: the grid the memory plan predicts, the model's channels, and the same noise
// (hence the same features) for the same image however it is batched.
TEST(DiffusionGolden, AsAVisionEncoderTheGridIsPlannedAndTheNoiseFollowsTheImage) {
  REQUIRE_GOLDEN(folder, "sd15");
  check_as_encoder(folder, 16);  // sample_size 8 latents x the VAE's 2
  torch::NoGradGuard no_grad;
  EncoderOptions options;
  options.diffusion_block = 1;
  options.noise_seed = 7;
  auto encoder = load_vision_encoder(folder.string(), options);
  const auto pixels = torch::rand({3, 3, 16, 16}) * 2 - 1;
  const auto all = encoder->features(pixels);
  EXPECT_EQ(all.size(1), encoder->channels());
  const auto second = encoder->features(pixels.slice(0, 1, 2));
  EXPECT_TRUE(torch::equal(second, all.slice(0, 1, 2)) ||
              (second - all.slice(0, 1, 2)).abs().max().item<double>() < 1e-5);
  options.noise_seed = 8;  // another job seed: other noise
  const auto other = load_vision_encoder(folder.string(), options)->features(pixels.slice(0, 1, 2));
  EXPECT_GT((other - second).abs().max().item<double>(), 1e-4);
}

TEST(DiffusionGolden, DiTAsAVisionEncoderAtItsOwnResolution) {
  REQUIRE_GOLDEN(folder, "dit");
  const auto shape = check_as_encoder(folder, 32);  // sample_size 16 latents x the VAE's 2
  EXPECT_EQ(shape.channels, 4 * 16);                // 2 x 2 cells of 2 heads x 8
  EXPECT_EQ(shape.grid_width, 4);                   // 32 px / (2 x 2 x 2)
}

TEST(DiffusionGolden, AnUpBlockTheUNetLacksIsRefusedByName) {
  REQUIRE_GOLDEN(folder, "sd15");
  EncoderOptions options;
  options.diffusion_block = 3;
  try {
    load_vision_encoder(folder.string(), options);
    FAIL() << "up block 3 of 0..2 accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("diffusion_block 3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace acsweep::models
