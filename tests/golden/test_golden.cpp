// acsweep against Hugging Face transformers itself: the golden references that
// tests/golden/make_golden.py writes (CTest runs it first, into ACSWEEP_GOLDEN; never skipped
// there: a missing reference fails). Every hidden state of each tower (and the other input size
// where a family interpolates), the Llama logits (grouped-query and multi-head, tied and untied),
// greedy generation of a left-padded batch,
// the three image processors on JPEGs of odd sizes, and a tiny LLaVA's Stage-1 loss, A and
// projector gradients.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "acsweep/data/image.hpp"
#include "acsweep/data/preprocessor.hpp"
#include "acsweep/models/generate.hpp"
#include "acsweep/models/llama.hpp"
#include "acsweep/models/multimodal.hpp"
#include "acsweep/models/projector.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/models/vision_representation.hpp"
#include "acsweep/models/vision_transformer.hpp"
#include "acsweep/scores/alignment.hpp"
#include "golden/golden_case.hpp"
#include "tensor_checks.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;

using acsweep::testing::expect_close;

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

class TowerGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(TowerGolden, EveryHiddenStateAsTransformers) {
  REQUIRE_GOLDEN(folder, GetParam());
  const auto config = read_vision_tower_config((folder / "config.json").string());
  const SafetensorsFile expected((folder / "golden.safetensors").string());
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

INSTANTIATE_TEST_SUITE_P(Families, TowerGolden,
                         ::testing::Values("clip_openai", "clip_openclip", "siglip", "siglip2", "dinov2",
                                           "dinov2_registers"));

class LlamaGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(LlamaGolden, LogitsAsTransformers) {
  REQUIRE_GOLDEN(folder, GetParam());
  auto llm = load_llama(folder.string());
  const SafetensorsFile expected((folder / "golden.safetensors").string());
  torch::NoGradGuard no_grad;
  const auto ids = to_tensor(expected.tensor("input_ids")).to(torch::kInt64);
  expect_close(llm->forward(llm->embed(ids)), to_tensor(expected.tensor("logits")), "logits");
}

INSTANTIATE_TEST_SUITE_P(Variants, LlamaGolden, ::testing::Values("llama_gqa_untied", "llama_mha_tied"));

std::vector<std::int64_t> ids_of(const torch::Tensor& t) {
  const auto as_int = t.to(torch::kInt64).contiguous();
  return {as_int.data_ptr<std::int64_t>(), as_int.data_ptr<std::int64_t>() + as_int.numel()};
}

// Three prompts of different lengths in one left-padded batch, greedy, an EOS that stops one row
// early: the tokens transformers' generate() gives, with the KV cache and without.
TEST(GenerationGolden, GreedyTokensAsTransformersGenerate) {
  REQUIRE_GOLDEN(folder, "generation");
  auto llm = load_llama(folder.string());
  const SafetensorsFile expected((folder / "golden.safetensors").string());
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> prompts;
  for (int i = 0; i < 3; ++i)
    prompts.push_back(
        llm->embed(to_tensor(expected.tensor("prompt_" + std::to_string(i))).to(torch::kInt64)));
  GenerationOptions options;
  options.max_new_tokens = ids_of(to_tensor(expected.tensor("max_new_tokens")))[0];
  options.stop_tokens = ids_of(to_tensor(expected.tensor("eos")));
  for (const bool cache : {true, false}) {
    options.use_cache = cache;
    const auto rows = generate_greedy(llm, prompts, options);
    for (int i = 0; i < 3; ++i)
      EXPECT_EQ(rows[static_cast<std::size_t>(i)],
                ids_of(to_tensor(expected.tensor("generated_" + std::to_string(i)))))
          << "row " << i << (cache ? " with" : " without") << " the cache";
  }
}

class ProcessorGolden : public ::testing::TestWithParam<const char*> {};

TEST_P(ProcessorGolden, DecodedAndPreprocessedPixelsEqualTransformers) {
  REQUIRE_GOLDEN(folder, GetParam());
  const auto p = data::read_preprocessor_config((folder / "preprocessor_config.json").string());
  const SafetensorsFile expected((folder / "golden.safetensors").string());
  // Equal 8-bit pixels after decoding and resizing; only float rounding in rescale and normalise,
  // far below one 8-bit level (about 0.015 here).
  const double rounding = 1e-5;
  for (const std::string i : {"0", "1"}) {
    const auto image = data::decode_image((folder / ("image_" + i + ".jpg")).string());
    const auto decoded = to_tensor(expected.tensor("decoded_" + i));
    const auto ours = torch::from_blob(const_cast<std::uint8_t*>(image.rgb.data()),
                                       {image.height, image.width, 3}, torch::kUInt8)
                          .to(torch::kFloat32);
    ASSERT_EQ(ours.sizes(), decoded.sizes()) << "image_" << i;
    EXPECT_EQ((ours - decoded).abs().max().item<double>(), 0.0) << "image_" << i << ": decoded against PIL";
    const auto got = p.apply(image);
    const auto mine =
        torch::from_blob(const_cast<float*>(got.pixels.data()), {3, got.height, got.width}).clone();
    const auto want = to_tensor(expected.tensor("pixel_values_" + i));
    ASSERT_EQ(mine.sizes(), want.sizes()) << "image_" << i;
    EXPECT_LE((mine - want).abs().max().item<double>(), rounding) << "image_" << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Processors, ProcessorGolden,
                         ::testing::Values("clip_processor", "siglip_processor", "dinov2_processor"));

// A tiny LLaVA-1.5 as transformers' LlavaForConditionalGeneration computes it: the CLIP tower's
// penultimate layer without the class token, the mlp2x_gelu projector, the visual tokens after BOS,
// the loss on the caption and </s>.
TEST(LlavaGolden, StageOneLossAlignmentAndProjectorGradients) {
  REQUIRE_GOLDEN(folder, "llava");
  const SafetensorsFile expected((folder / "golden.safetensors").string());
  std::vector<std::unique_ptr<VisionEncoder>> members;
  members.push_back(load_vision_encoder((folder / "clip").string()));
  VisionRepresentation representation(std::move(members));
  auto llm = load_llama((folder / "llama").string());
  Projector projector(representation.channels(), llm->config().hidden_size);
  load_parameters(*projector, SafetensorsFolder((folder / "projector").string()), "model.mm_projector.");

  std::vector<TokenizedPrompt> prompts(2);
  for (std::size_t b = 0; b < prompts.size(); ++b) {
    const auto ids = to_tensor(expected.tensor("ids_" + std::to_string(b))).to(torch::kInt64);
    const auto trainable = to_tensor(expected.tensor("trainable_" + std::to_string(b)));
    for (std::int64_t t = 0; t < ids.size(0); ++t) {
      prompts[b].ids.push_back(ids[t].item<std::int64_t>());
      prompts[b].trainable.push_back(trainable[t].item<float>() > 0.5f);
    }
    prompts[b].image_positions = {
        static_cast<std::size_t>(to_tensor(expected.tensor("image_position"))[0].item<float>())};
  }
  const std::vector<const TokenizedPrompt*> batch{&prompts[0], &prompts[1]};
  const auto tokens =
      visual_tokens(representation, {(folder / "image_0.png").string(), (folder / "image_1.png").string()});

  const auto alignment = scores::caption_log_likelihoods(llm, batch, projector(tokens));
  const auto want_a = to_tensor(expected.tensor("A"));
  ASSERT_EQ(alignment.size(), 2u);
  for (std::size_t b = 0; b < alignment.size(); ++b)
    EXPECT_NEAR(alignment[b], want_a[static_cast<std::int64_t>(b)].item<double>(), 1e-4)
        << "A of prompt " << b;

  // The Stage-1 loss as train/stage1.cpp takes it: the mean over every caption token of the batch.
  std::vector<std::int64_t> counts;
  const auto log_probs = trainable_token_log_probs(llm, batch, projector(tokens), counts);
  const auto loss = -log_probs.sum() / static_cast<double>(log_probs.size(0));
  EXPECT_NEAR(loss.item<double>(), to_tensor(expected.tensor("loss"))[0].item<double>(), 1e-4);
  loss.backward();
  for (const auto& p : projector->named_parameters())
    expect_close(p.value().grad(), to_tensor(expected.tensor("grad." + p.key())), "grad of " + p.key());
}

}  // namespace
}  // namespace acsweep::models
