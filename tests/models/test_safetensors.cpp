// safetensors: hand-derived conversions, every kind of bad header named by file and tensor, and
// both directions against an independent Python implementation (tests/models/safetensors_reference.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "acsweep/error.hpp"
#include "acsweep/models/hf_config.hpp"
#include "acsweep/models/safetensors.hpp"
#include "temp_dir.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;

class SafetensorsTest : public acsweep::testing::TempDirTest {
 protected:
  // A file with the given raw header text and data bytes.
  std::string raw_file(const std::string& name, const std::string& header, std::size_t data_bytes,
                       std::uint64_t claimed_length = 0) {
    std::ofstream out(path(name), std::ios::binary);
    const std::uint64_t length = claimed_length ? claimed_length : header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((length >> (8 * i)) & 0xFF));
    out << header << std::string(data_bytes, '\0');
    return path(name);
  }
  std::string error_of(const std::string& file) {
    try {
      SafetensorsFile f(file);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }
};

std::string run(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  EXPECT_EQ(::pclose(pipe), 0) << command;
  return out;
}

TEST(HalfPrecision, HandDerivedBitPatterns) {
  EXPECT_EQ(float_to_half(1.0f), 0x3C00);
  EXPECT_EQ(float_to_half(-2.0f), 0xC000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7BFF);               // largest half
  EXPECT_EQ(float_to_half(65520.0f), 0x7C00);               // halfway to 2^16: rounds (to even) to infinity
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // its half: a tie, rounds to even zero
  EXPECT_EQ(float_to_half(0.1f), 0x2E66);
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_EQ(float_to_bfloat16(1.0f), 0x3F80);
  EXPECT_EQ(float_to_bfloat16(1.00390625f), 0x3F80);  // 1 + 2^-8: a tie, rounds to even
  EXPECT_EQ(float_to_bfloat16(1.01171875f), 0x3F82);  // 1 + 3*2^-8: a tie, rounds up to even
  EXPECT_EQ(bfloat16_to_float(0xC040), -3.0f);
  for (std::uint32_t h = 0; h < 0x7C00; ++h)  // every finite half survives float and back
    ASSERT_EQ(float_to_half(half_to_float(static_cast<std::uint16_t>(h))), h) << h;
}

TEST_F(SafetensorsTest, RoundTripEveryDtype) {
  write_safetensors(path("m.safetensors"),
                    {{"a", {{2, 3}, {1, 2, 3, 4, 5, 6.5f}, DType::F32}},
                     {"b", {{3}, {0.1f, -1, 65504}, DType::F16}},
                     {"c", {{1, 2}, {3.0f, -0.15625f}, DType::BF16}}},
                    {{"format", "pt"}});
  const SafetensorsFile file(path("m.safetensors"));
  EXPECT_EQ(file.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(file.tensor("a").shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(file.tensor("a").to_float()[5], 6.5f);
  EXPECT_EQ(file.tensor("b").to_float(), (std::vector<float>{half_to_float(0x2E66), -1, 65504}));
  EXPECT_EQ(file.tensor("c").to_float(), (std::vector<float>{3.0f, -0.15625f}));
  EXPECT_EQ(file.metadata().at("format"), "pt");
  EXPECT_THROW(file.tensor("d"), InputError);
}

TEST_F(SafetensorsTest, BadHeadersNameFileAndTensor) {
  const std::string ok = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_EQ(error_of(raw_file("ok.safetensors", ok, 8)), "");
  EXPECT_NE(error_of(raw_file("short.safetensors", ok, 4))
                .find("tensor 't': bytes 0..8 lie outside the 4 data bytes"),
            std::string::npos);
  EXPECT_NE(error_of(raw_file("len.safetensors", ok, 8, 1u << 20)).find("header length 1048576 does not fit"),
            std::string::npos);
  EXPECT_NE(error_of(raw_file("json.safetensors", "{not json", 0)).find("the header is not JSON"),
            std::string::npos);
  EXPECT_NE(
      error_of(raw_file("dtype.safetensors", R"({"t":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8))
          .find("tensor 't': dtype 'I64' is not supported"),
      std::string::npos);
  EXPECT_NE(
      error_of(raw_file("shape.safetensors", R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8))
          .find("tensor 't': shape [3] of F32 needs 12 bytes, the offsets give 8"),
      std::string::npos);
  EXPECT_NE(error_of(raw_file("overlap.safetensors",
                              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                              12))
                .find("tensors 'a' and 'b' overlap"),
            std::string::npos);
  std::ofstream(path("three.safetensors")) << "abc";
  EXPECT_NE(error_of(path("three.safetensors")).find("too short for a safetensors header"),
            std::string::npos);
  std::ofstream(path("pytorch_model.bin")) << "pickle";
  EXPECT_NE(error_of(path("pytorch_model.bin")).find("pickle checkpoint"), std::string::npos);
}

TEST_F(SafetensorsTest, ShardedFolderThroughItsIndex) {
  write_safetensors(path("model-00001-of-00002.safetensors"), {{"x", {{1}, {1.5f}, DType::F32}}});
  write_safetensors(path("model-00002-of-00002.safetensors"), {{"y", {{2}, {2, 3}, DType::BF16}}});
  std::ofstream(path("model.safetensors.index.json"))
      << R"({"metadata":{},"weight_map":{"x":"model-00001-of-00002.safetensors","y":"model-00002-of-00002.safetensors"}})";
  const SafetensorsFolder folder(dir_.string());
  EXPECT_EQ(folder.names(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(folder.tensor("y").to_float(), (std::vector<float>{2, 3}));
  try {
    folder.tensor("z");
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(": no weight 'z'"), std::string::npos);
  }
  std::ofstream(path("model.safetensors.index.json"))
      << R"({"weight_map":{"x":"model-00002-of-00002.safetensors"}})";
  EXPECT_THROW(SafetensorsFolder{dir_.string()}, InputError);
  std::ofstream(path("model.safetensors.index.json")) << R"({"weight_map":{"x":"../escape.safetensors"}})";
  EXPECT_THROW(SafetensorsFolder{dir_.string()}, InputError);
}

TEST_F(SafetensorsTest, FolderWithOnlyAPickleIsRefused) {
  std::ofstream(path("pytorch_model.bin")) << "pickle";
  try {
    SafetensorsFolder folder(dir_.string());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("unpickling can run arbitrary code"), std::string::npos);
  }
}

TEST_F(SafetensorsTest, AgreesWithAnIndependentPythonImplementation) {
  // Python writes (unpadded header, reversed key order, unaligned data); we read.
  run(ACSWEEP_PYTHON " " ACSWEEP_TESTS_DIR "/models/safetensors_reference.py write " +
      path("py.safetensors"));
  const SafetensorsFile file(path("py.safetensors"));
  const auto expected = nlohmann::json::parse(run(ACSWEEP_PYTHON " " ACSWEEP_TESTS_DIR
                                                                 "/models/safetensors_reference.py read " +
                                                  path("py.safetensors")));
  for (const auto& [name, entry] : expected.items()) {
    const TensorView& view = file.tensor(name);
    EXPECT_EQ(to_string(view.dtype), entry["dtype"].get<std::string>());
    EXPECT_EQ(view.shape, entry["shape"].get<std::vector<std::int64_t>>());
    EXPECT_EQ(view.to_float(), entry["values"].get<std::vector<float>>()) << name;
  }
  // We write; Python reads.
  write_safetensors(path("cc.safetensors"), {{"h", {{2, 2}, {0.1f, 1e-6f, -7, 3e4f}, DType::F16}},
                                             {"g", {{3}, {0.3f, -1e-3f, 2e30f}, DType::BF16}},
                                             {"f", {{1}, {3.14159f}, DType::F32}}});
  const auto read_back = nlohmann::json::parse(run(ACSWEEP_PYTHON " " ACSWEEP_TESTS_DIR
                                                                  "/models/safetensors_reference.py read " +
                                                   path("cc.safetensors")));
  const SafetensorsFile ours(path("cc.safetensors"));
  for (const char* name : {"h", "g", "f"})
    EXPECT_EQ(ours.tensor(name).to_float(), read_back[name]["values"].get<std::vector<float>>()) << name;
}

}  // namespace
// RoPE's base as transformers < 5 (rope_theta, rope_scaling) and 5 (rope_parameters) write it.
TEST_F(SafetensorsTest, LlamaConfigReadsRopeThetaFromEitherPlace) {
  const auto config_with = [&](const std::string& rope) {
    std::ofstream(path("config.json"))
        << R"({"model_type": "llama", "vocab_size": 97, "hidden_size": 64, "intermediate_size": 96,
               "num_hidden_layers": 2, "num_attention_heads": 4)"
        << rope << "}";
    return path("config.json");
  };
  EXPECT_EQ(read_llama_config(config_with("")).rope_theta, 10000.0);
  EXPECT_EQ(read_llama_config(config_with(R"(, "rope_theta": 500000.0, "rope_scaling": null)")).rope_theta,
            5e5);
  EXPECT_EQ(read_llama_config(
                config_with(R"(, "rope_parameters": {"rope_theta": 500000.0, "rope_type": "default"})"))
                .rope_theta,
            5e5);
  try {
    read_llama_config(config_with(R"(, "rope_parameters": {"rope_theta": 5e5, "rope_type": "llama3"})"));
    ADD_FAILURE() << "llama3 scaling accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("rope_parameters of type 'llama3'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_llama_config(config_with(R"(, "rope_scaling": {"type": "linear", "factor": 2.0})")),
               InputError);
}

// Qwen2: q, k and v biases always, Llama's attention_bias on all four; sliding-window layers are
// refused naming the keys that ask for them (acsweep does not implement the window).
TEST_F(SafetensorsTest, Qwen2ConfigsCarryBiasesAndRefuseSlidingLayers) {
  const auto config_with = [&](const std::string& type, const std::string& more) {
    std::ofstream(path("config.json"))
        << R"({"model_type": ")" << type << R"(", "vocab_size": 97, "hidden_size": 64,
               "intermediate_size": 96, "num_hidden_layers": 4, "num_attention_heads": 4)"
        << more << "}";
    return path("config.json");
  };
  const auto error_of = [&](const std::string& type, const std::string& more) {
    try {
      read_llama_config(config_with(type, more));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const LlamaConfig qwen = read_llama_config(config_with("qwen2", R"(, "use_sliding_window": false,
      "max_window_layers": 2, "sliding_window": 4, "layer_types": ["full_attention", "full_attention",
      "full_attention", "full_attention"])"));
  EXPECT_TRUE(qwen.qkv_bias);
  EXPECT_FALSE(qwen.o_bias);
  const LlamaConfig llama = read_llama_config(config_with("llama", R"(, "attention_bias": true)"));
  EXPECT_TRUE(llama.qkv_bias && llama.o_bias);
  EXPECT_FALSE(read_llama_config(config_with("llama", "")).qkv_bias);
  // Every layer below max_window_layers keeps full attention: nothing slides.
  EXPECT_EQ(error_of("qwen2", R"(, "use_sliding_window": true, "max_window_layers": 4)"), "no error");
  EXPECT_NE(error_of("qwen2", R"(, "use_sliding_window": true, "max_window_layers": 2)")
                .find("'use_sliding_window' is true and layers 2 to 3 (from 'max_window_layers')"),
            std::string::npos);
  EXPECT_NE(
      error_of("qwen2", R"(, "use_sliding_window": true, "max_window_layers": 0)").find("layers 0 to 3"),
      std::string::npos);
  EXPECT_NE(error_of("qwen2", R"(, "layer_types": ["full_attention", "sliding_attention"])")
                .find("'layer_types' gives layer 1 \"sliding_attention\""),
            std::string::npos);
  EXPECT_EQ(error_of("qwen2", R"(, "use_sliding_window": "yes")"),
            path("config.json") + ": 'use_sliding_window' must be true or false, not \"yes\"");
  EXPECT_NE(error_of("llama", R"(, "mlp_bias": true)").find("'mlp_bias' is true"), std::string::npos);
  EXPECT_NE(error_of("qwen2", R"(, "hidden_act": "gelu")").find("'hidden_act' is \"gelu\""),
            std::string::npos);
  EXPECT_NE(error_of("gpt2", "").find("(llama, mistral, qwen2)"), std::string::npos);
}

// Damaged or hostile configs: sizes no model has are refused naming the file and key, before
// anything is allocated (a num_hidden_layers of 1e6 or an image_size of 1e9 was OOM-killed).
TEST_F(SafetensorsTest, ConfigsWithImplausibleSizesAreRefusedNamingTheKey) {
  const auto error_of = [&](const std::string& text, bool vision) {
    std::ofstream(path("config.json")) << text;
    try {
      if (vision)
        read_vision_tower_config(path("config.json"));
      else
        read_llama_config(path("config.json"));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string llama = R"({"model_type": "llama", "vocab_size": 97, "hidden_size": 64,
      "intermediate_size": 96, "num_attention_heads": 4, )";
  EXPECT_EQ(error_of(llama + R"("num_hidden_layers": 2})", false), "no error");
  EXPECT_EQ(error_of(llama + R"("num_hidden_layers": 1000000})", false),
            path("config.json") + ": 'num_hidden_layers' is 1000000, more than any model has (at most 1024)");
  EXPECT_NE(
      error_of(llama + R"("num_hidden_layers": 2, "max_position_embeddings": 18446744073709551615})", false)
          .find("'max_position_embeddings' is 18446744073709551615, more than any model has"),
      std::string::npos);
  const std::string clip = R"({"model_type": "clip_vision_model", "hidden_size": 32, "num_hidden_layers": 2,
      "num_attention_heads": 4, "intermediate_size": 64, "patch_size": 4, )";
  EXPECT_EQ(error_of(clip + R"("image_size": 32})", true), "no error");
  EXPECT_EQ(error_of(clip + R"("image_size": 1000000000})", true),
            path("config.json") + ": 'image_size' is 1000000000, more than any model has (at most 16384)");
  EXPECT_EQ(error_of("[1, 2]", false), path("config.json") + ": must be a JSON object, not array");
  // Keys of the wrong type are named, not left to the JSON library (found by tests/fuzz).
  EXPECT_EQ(error_of(R"({"model_type": 5})", false),
            path("config.json") + ": 'model_type' must be a string, not 5");
  EXPECT_EQ(error_of(clip + R"("image_size": 32, "hidden_act": true})", true),
            path("config.json") + ": 'hidden_act' must be a string, not true");
  EXPECT_EQ(error_of("[1, 2]", true), path("config.json") + ": must be a JSON object, not array");
  EXPECT_EQ(error_of(R"({"model_type": "clip", "vision_config": [1]})", true),
            path("config.json") + ": 'vision_config' must be an object, not [1]");
}

}  // namespace acsweep::models
