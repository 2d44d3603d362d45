// CLIP's vision tower against a float64 reference written differently
// (tests/models/clip_reference.py): hidden states of three layers to 1e-4 relative, quick_gelu
// and gelu; and the projector's shape and activation.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "acsweep/models/clip_vision.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;

void expect_close(const torch::Tensor& got, const torch::Tensor& want, const char* what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double scale = want.abs().max().item<double>();
  EXPECT_LE((got - want).abs().max().item<double>(), 1e-4 * scale) << what;
}

class ClipAgainstReference : public ::testing::TestWithParam<const char*> {};

TEST_P(ClipAgainstReference, HiddenStatesAgree) {
  const fs::path folder =
      fs::temp_directory_path() / ("acsweep_clip_" + std::to_string(::getpid()) + GetParam());
  const std::string command = "/usr/bin/python3 " ACSWEEP_TESTS_DIR "/models/clip_reference.py " +
                              folder.string() + " 5 " + GetParam();
  ASSERT_EQ(std::system(command.c_str()), 0);
  ClipVisionTower tower = load_clip_vision(folder.string());
  const SafetensorsFile expected((folder / "expected.safetensors").string());
  const auto pixels = to_tensor(expected.tensor("pixels"));
  torch::NoGradGuard no_grad;
  expect_close(tower->forward(pixels), to_tensor(expected.tensor("penultimate_patches")), "penultimate");
  expect_close(tower->forward(pixels, -1, true), to_tensor(expected.tensor("last_with_class")), "last");
  expect_close(tower->forward(pixels, 0), to_tensor(expected.tensor("embeddings_patches")), "embeddings");
  EXPECT_THROW(tower->forward(pixels, 4), std::invalid_argument);
  fs::remove_all(folder);
}

INSTANTIATE_TEST_SUITE_P(Activations, ClipAgainstReference, ::testing::Values("quick_gelu", "gelu"),
                         [](const auto& variant) { return std::string(variant.param); });

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
