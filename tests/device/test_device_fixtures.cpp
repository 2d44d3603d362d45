// acsweep against Hugging Face transformers itself, through golden fixtures written on a machine
// that has transformers (tests/device/make_fixtures.py). Runs when ACSWEEP_DEVICE_FIXTURES names
// the fixture folder; skipped otherwise (this project's CI machines have no transformers).
// Every hidden state of each tower (and the other input size where a family interpolates), the
// Llama logits, and the three image processors, to 1e-4 relative.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "acsweep/data/image.hpp"
#include "acsweep/data/preprocessor.hpp"
#include "acsweep/models/llama.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"
#include "acsweep/models/vision_transformer.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;

fs::path fixture(const std::string& name) {
  const char* root = std::getenv("ACSWEEP_DEVICE_FIXTURES");
  if (root == nullptr) return {};
  const fs::path folder = fs::path(root) / name;
  return fs::exists(folder / "fixture.safetensors") ? folder : fs::path{};
}

#define REQUIRE_FIXTURE(folder, name)    \
  const fs::path folder = fixture(name); \
  if (folder.empty()) GTEST_SKIP() << "no fixture " << name << " (set ACSWEEP_DEVICE_FIXTURES; see README)"

void expect_close(const torch::Tensor& got, const torch::Tensor& want, const std::string& what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double scale = std::max(1e-6, want.abs().max().item<double>());
  EXPECT_LE((got - want).abs().max().item<double>(), 1e-4 * scale) << what;
}

template <typename Tower>
void check_states(Tower& tower, const SafetensorsFile& expected, const std::string& prefix) {
  torch::NoGradGuard no_grad;
  const auto pixels = to_tensor(expected.tensor(prefix + "pixels"));
  const auto layers = tower->config().num_hidden_layers;
  for (int i = 0; i <= layers; ++i)
    expect_close(tower->hidden_states(pixels, i),
                 to_tensor(expected.tensor(prefix + "hidden_" + std::to_string(i))),
                 prefix + "hidden_" + std::to_string(i));
}

class TowerFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(TowerFixture, EveryHiddenStateAsTransformers) {
  REQUIRE_FIXTURE(folder, GetParam());
  const auto config = read_vision_tower_config((folder / "config.json").string());
  const SafetensorsFile expected((folder / "fixture.safetensors").string());
  const SafetensorsFolder weights(folder.string());
  const auto check = [&](auto tower) {
    tower->load(weights);
    check_states(tower, expected, "");
    if (config.family == VisionFamily::siglip2 || config.family == VisionFamily::dinov2)
      check_states(tower, expected, "other_");
  };
  if (config.family == VisionFamily::dinov2)
    check(Dinov2(config));
  else
    check(VisionTransformer(config));
}

INSTANTIATE_TEST_SUITE_P(Families, TowerFixture,
                         ::testing::Values("clip", "siglip", "siglip2", "dinov2", "dinov2_registers"));

TEST(LlamaFixture, LogitsAsTransformers) {
  REQUIRE_FIXTURE(folder, "llama");
  auto llm = load_llama(folder.string());
  const SafetensorsFile expected((folder / "fixture.safetensors").string());
  torch::NoGradGuard no_grad;
  const auto ids = to_tensor(expected.tensor("input_ids")).to(torch::kInt64);
  expect_close(llm->forward(llm->embed(ids)), to_tensor(expected.tensor("logits")), "logits");
}

class ProcessorFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(ProcessorFixture, PixelValuesAsTransformers) {
  REQUIRE_FIXTURE(folder, GetParam());
  const auto p = data::read_preprocessor_config((folder / "preprocessor_config.json").string());
  const auto got = p.apply(data::decode_image((folder / "image.png").string()));
  const SafetensorsFile expected((folder / "fixture.safetensors").string());
  const auto want = to_tensor(expected.tensor("pixel_values"))[0];
  expect_close(torch::from_blob(const_cast<float*>(got.pixels.data()), {3, got.height, got.width}).clone(),
               want, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Processors, ProcessorFixture,
                         ::testing::Values("clip_processor", "siglip_processor", "dinov2_processor"));

}  // namespace
}  // namespace acsweep::models
