// The LibTorch Llama decoder against a float64 reference written differently
// (tests/models/llama_reference.py) on tiny random models: logits to 1e-4 relative, with and
// without grouped-query attention and tied embeddings; bad weights named by key.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "acsweep/error.hpp"
#include "acsweep/models/llama.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;

// Runs tests/models/SCRIPT FOLDER ARGUMENTS and returns FOLDER.
fs::path run_reference(const std::string& script, const std::string& name, const std::string& arguments) {
  const fs::path folder =
      fs::temp_directory_path() / ("acsweep_llama_" + std::to_string(::getpid()) + "_" + name);
  const std::string command =
      ACSWEEP_PYTHON " " ACSWEEP_TESTS_DIR "/models/" + script + " " + folder.string() + " " + arguments;
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return folder;
}

fs::path make_model(const std::string& name, int seed, bool tie, int kv_heads,
                    const std::string& fault = "") {
  return run_reference("llama_reference.py", name,
                       std::to_string(seed) + " " + (tie ? "1" : "0") + " " + std::to_string(kv_heads) +
                           (fault.empty() ? "" : " " + fault));
}

// The folder's model, loaded, against the logits its reference wrote for its ids.
void expect_reference_logits(const fs::path& folder) {
  LlamaForCausalLM model = load_llama(folder.string());
  std::ifstream in(folder / "ids.json");
  const auto ids_json = nlohmann::json::parse(in);
  std::vector<std::int64_t> flat;
  for (const auto& row : ids_json)
    for (const auto& id : row) flat.push_back(id.get<std::int64_t>());
  const auto ids = torch::tensor(flat).view({static_cast<long>(ids_json.size()), -1});
  torch::NoGradGuard no_grad;
  const torch::Tensor logits = model->forward(model->embed(ids));
  const torch::Tensor expected =
      to_tensor(SafetensorsFile((folder / "expected.safetensors").string()).tensor("logits"));
  ASSERT_EQ(logits.sizes(), expected.sizes());
  const double scale = expected.abs().max().item<double>();
  const double worst = (logits - expected).abs().max().item<double>();
  EXPECT_LE(worst, 1e-4 * scale) << "max |difference| " << worst << " against max |logit| " << scale;
}

struct Case {
  const char* name;
  bool tie;
  int kv_heads;
};

class LlamaAgainstReference : public ::testing::TestWithParam<Case> {};

TEST_P(LlamaAgainstReference, LogitsAgreeTo1e4Relative) {
  const Case c = GetParam();
  const fs::path folder = make_model(c.name, 11, c.tie, c.kv_heads);
  expect_reference_logits(folder);
  fs::remove_all(folder);
}

// Qwen2 (biases on q, k and v, rope_theta 1e6, transformers 5's rope_parameters and layer_types)
// against transformers' own Qwen2ForCausalLM, saved by save_pretrained.
TEST(Qwen2AgainstTransformers, LogitsAgreeTo1e4RelativeTiedAndUntied) {
  for (const bool tie : {false, true}) {
    SCOPED_TRACE(tie ? "tied" : "untied");
    const fs::path folder =
        run_reference("qwen2_reference.py", tie ? "qwen2_tied" : "qwen2", tie ? "5 1" : "4 0");
    const LlamaConfig config = read_llama_config((folder / "config.json").string());
    EXPECT_TRUE(config.qkv_bias);
    EXPECT_FALSE(config.o_bias);
    EXPECT_EQ(config.rope_theta, 1e6);
    EXPECT_EQ(config.tie_word_embeddings, tie);
    expect_reference_logits(folder);
    fs::remove_all(folder);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, LlamaAgainstReference,
                         ::testing::Values(Case{"gqa_untied", false, 2}, Case{"mha_tied", true, 4},
                                           Case{"mqa_untied", false, 1}),
                         [](const auto& variant) { return std::string(variant.param.name); });

// Random models (tests, benchmarks) draw the same weights as with torch::nn::Linear's init.
TEST(LlamaLinear, DrawsAsTorchLinearDoesFromTheSameSeed) {
  torch::manual_seed(7);
  LlamaLinear ours(48, 80);
  torch::manual_seed(7);
  torch::nn::Linear theirs(torch::nn::LinearOptions(48, 80).bias(false));
  EXPECT_TRUE(torch::equal(ours->weight, theirs->weight));
  const auto x = torch::randn({2, 5, 48});
  EXPECT_TRUE(torch::allclose(ours->forward(x), theirs->forward(x)));
}

std::string load_error(const fs::path& folder) {
  try {
    load_llama(folder.string());
  } catch (const InputError& e) {
    fs::remove_all(folder);
    return e.what();
  }
  fs::remove_all(folder);
  return "";
}

TEST(LlamaWeights, MissingMisShapedAndNonFiniteWeightsAreNamed) {
  const std::string key = "model.layers.1.self_attn.k_proj.weight";
  EXPECT_NE(load_error(make_model("drop", 1, false, 2, "--drop " + key)).find("missing weight '" + key + "'"),
            std::string::npos);
  EXPECT_NE(load_error(make_model("shape", 1, false, 2, "--reshape " + key))
                .find("weight '" + key + "' has shape [31, 64], the model needs [32, 64]"),
            std::string::npos);
  EXPECT_NE(load_error(make_model("nan", 1, false, 2, "--nan model.norm.weight"))
                .find("weight 'model.norm.weight' holds NaN or infinite values"),
            std::string::npos);
}

}  // namespace
}  // namespace acsweep::models
