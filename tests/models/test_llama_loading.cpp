// Loading an LLM a part at a time (models::load_llama): the same model as made whole and then
// filled and moved, in float32 and bf16; the host's peak of tensor bytes bounded by one part in
// float32 beyond the model (a counting CPU allocator, bench/tensor_memory.hpp, installed for this
// whole executable); F16 and BF16 weights widened exactly, aligned in the file or not.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>

#include "acsweep/models/llama.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"
#include "tensor_memory.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;

// A random Llama of `layers` small layers written by save_parameters (float32), with its config.
fs::path save_random_llama(const std::string& name, std::int64_t layers) {
  const fs::path folder =
      fs::temp_directory_path() / ("acsweep_llama_" + std::to_string(::getpid()) + "_" + name);
  fs::create_directories(folder);
  std::ofstream(folder / "config.json")
      << "{\"model_type\": \"llama\", \"vocab_size\": 96, \"hidden_size\": 64, \"intermediate_size\": 128, "
         "\"num_hidden_layers\": "
      << layers << ", \"num_attention_heads\": 4, \"num_key_value_heads\": 2}\n";
  torch::manual_seed(3);
  LlamaForCausalLM model(read_llama_config((folder / "config.json").string()));
  save_parameters(*model, (folder / "model.safetensors").string());
  return folder;
}

// The way the model was loaded before: whole in float32 on the host, filled, then moved.
LlamaForCausalLM whole_then_moved(const fs::path& folder, torch::ScalarType dtype) {
  LlamaForCausalLM model(read_llama_config((folder / "config.json").string()));
  load_parameters(*model, SafetensorsFolder(folder.string()));
  model->to(dtype);
  return model;
}

TEST(LlamaLoading, PartByPartEqualsTheWholeModelFilledAndMoved) {
  const fs::path folder = save_random_llama("parts", 3);
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const auto streamed = load_llama(folder.string(), {torch::kCPU, dtype});
    const auto whole = whole_then_moved(folder, dtype);
    const auto a = streamed->named_parameters(), b = whole->named_parameters();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].key(), b[i].key());
      EXPECT_EQ(a[i].value().scalar_type(), dtype) << a[i].key();
      EXPECT_TRUE(torch::equal(a[i].value(), b[i].value())) << a[i].key();
    }
    EXPECT_FALSE(streamed->is_training());
  }
  fs::remove_all(folder);
}

// The host never holds the whole model in float32: loading into bf16 needs at most the model's
// bf16 bytes plus two float32 copies of its largest part (the part being filled and its
// conversion), where making it whole first needs all of it in float32.
TEST(LlamaLoading, TheHostHoldsOnePartInFloat32AtATime) {
  auto& tensors = TensorMemory::install();
  const fs::path folder = save_random_llama("memory", 12);
  const auto c = read_llama_config((folder / "config.json").string());
  std::int64_t layer = 0;
  for (const auto& p : LlamaDecoderLayer(c)->parameters()) layer += p.numel();
  const std::int64_t largest_part = std::max(layer, c.vocab_size * c.hidden_size),
                     parameters =
                         c.num_hidden_layers * layer + 2 * c.vocab_size * c.hidden_size + c.hidden_size;
  const auto peak_above = [&](const std::function<LlamaForCausalLM()>& load) {
    tensors.reset_peak();
    const auto start = tensors.now();
    const auto model = load();
    std::int64_t held = 0;
    for (const auto& p : model->parameters()) held += p.numel() * 2;
    EXPECT_EQ(held, 2 * parameters);
    return tensors.peak() - start;
  };
  const auto streamed = peak_above([&] {
    return load_llama(folder.string(), {torch::kCPU, torch::kBFloat16});
  });
  const auto whole = peak_above([&] { return whole_then_moved(folder, torch::kBFloat16); });
  EXPECT_LE(streamed, 2 * parameters + 2 * 4 * largest_part);
  EXPECT_GE(whole, 4 * parameters);  // the baseline, so that the bound above says something
  fs::remove_all(folder);
}

// Weights stored as F16 and BF16 (as checkpoints ship) load widened exactly, also from bytes that
// lie unaligned in the file (a header whose length is odd).
TEST(LlamaLoading, HalfPrecisionWeightsLoadExactlyAlignedOrNot) {
  const fs::path folder =
      fs::temp_directory_path() / ("acsweep_llama_" + std::to_string(::getpid()) + "_half");
  fs::create_directories(folder);
  const std::vector<float> values{1.0f, -2.5f, 3.140625f, 65504.0f, 1e-3f, -0.0f};
  for (const bool odd : {false, true})
    for (const auto dtype : {DType::F16, DType::BF16}) {
      const auto path = (folder / "w.safetensors").string();
      std::string header =
          "{\"w\":{\"dtype\":\"" + to_string(dtype) + "\",\"shape\":[2,3],\"data_offsets\":[0,12]}}";
      while (header.size() % 8 != (odd ? 1u : 0u)) header += ' ';
      std::ofstream out(path, std::ios::binary);
      const std::uint64_t length = header.size();
      out.write(reinterpret_cast<const char*>(&length), 8);
      out << header;
      for (const float v : values) {
        const std::uint16_t bits = dtype == DType::F16 ? float_to_half(v) : float_to_bfloat16(v);
        out.write(reinterpret_cast<const char*>(&bits), 2);
      }
      out.close();
      const SafetensorsFile file(path);
      const auto loaded = to_tensor(file.tensor("w"));
      ASSERT_EQ(loaded.sizes(), (std::vector<std::int64_t>{2, 3}));
      for (std::size_t i = 0; i < values.size(); ++i) {
        const std::uint16_t bits =
            dtype == DType::F16 ? float_to_half(values[i]) : float_to_bfloat16(values[i]);
        const float want = dtype == DType::F16 ? half_to_float(bits) : bfloat16_to_float(bits);
        EXPECT_EQ(loaded.view({-1})[static_cast<std::int64_t>(i)].item<float>(), want)
            << to_string(dtype) << (odd ? " unaligned" : " aligned") << " element " << i;
      }
    }
  fs::remove_all(folder);
}

}  // namespace
}  // namespace acsweep::models
