// Reading diffusers pipeline folders: what is implemented is read, per-block settings expand, and
// everything else is refused by file and key (hand-written configs; the golden tests read real
// save_pretrained output).
#include <gtest/gtest.h>

#include "acsweep/error.hpp"
#include "acsweep/models/diffusion_config.hpp"
#include "temp_dir.hpp"

namespace acsweep::models {
namespace {

class DiffusionConfigTest : public acsweep::testing::TempDirTest {
 protected:
  // The refusal's message holds every fragment.
  template <typename Read>
  void expect_refused(Read read, std::initializer_list<const char*> fragments) {
    try {
      read();
      FAIL() << "accepted";
    } catch (const InputError& e) {
      for (const char* f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
    }
  }
};

constexpr const char* kUNet = R"({"_class_name": "UNet2DConditionModel", "block_out_channels": [32, 64, 64],
  "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
  "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"], "attention_head_dim": [2, 4, 4],
  "cross_attention_dim": 16, "layers_per_block": 2, "norm_num_groups": 8, "sample_size": 8)";

TEST_F(DiffusionConfigTest, UNetSettingsExpandToOnePerBlock) {
  const auto c = read_unet_config(write("unet/config.json", std::string(kUNet) + "}"));
  EXPECT_EQ(c.down_blocks, (std::vector<UNetBlock>{UNetBlock::cross_attention, UNetBlock::cross_attention,
                                                   UNetBlock::plain}));
  EXPECT_EQ(c.up_blocks.front(), UNetBlock::plain);
  EXPECT_EQ(c.attention_heads, (std::vector<std::int64_t>{2, 4, 4}));
  EXPECT_EQ(c.cross_attention_dim, (std::vector<std::int64_t>{16, 16, 16}));
  EXPECT_EQ(c.layers_per_block, (std::vector<std::int64_t>{2, 2, 2}));
  EXPECT_EQ(c.transformer_layers_per_block, (std::vector<std::int64_t>{1, 1, 1}));
  EXPECT_EQ(c.time_embed_dim(), 128);
  EXPECT_FALSE(c.text_time);
}

TEST_F(DiffusionConfigTest, UNetFeaturesNotImplementedAreRefusedByKey) {
  const auto with = [&](const std::string& extra) {
    return write("unet/config.json", std::string(kUNet) + ", " + extra + "}");
  };
  expect_refused([&] { read_unet_config(with(R"("class_embed_type": "timestep")")); }, {"class_embed_type"});
  expect_refused([&] { read_unet_config(with(R"("addition_embed_type": "image")")); },
                 {"addition_embed_type"});
  expect_refused([&] { read_unet_config(with(R"("resnet_time_scale_shift": "scale_shift")")); },
                 {"resnet_time_scale_shift"});
  expect_refused([&] { read_unet_config(with(R"("transformer_layers_per_block": [1, 2])")); },
                 {"transformer_layers_per_block", "2 entries for 3 blocks"});
  expect_refused([&] { read_unet_config(with(R"("addition_embed_type": "text_time")")); },
                 {"addition_time_embed_dim"});
  const std::string bad_block =
      R"({"block_out_channels": [32], "down_block_types": ["SimpleCrossAttnDownBlock2D"],
    "up_block_types": ["UpBlock2D"]})";
  expect_refused([&] { read_unet_config(write("unet/config.json", bad_block)); },
                 {"config.json", "SimpleCrossAttnDownBlock2D"});
}

TEST_F(DiffusionConfigTest, EmptyPromptIsBeginEndAndPaddingToTheModelLength) {
  write("tok/vocab.json", R"({"!": 0, "a": 1, "<|startoftext|>": 2, "<|endoftext|>": 3})");
  write("tok/tokenizer_config.json",
        R"({"model_max_length": 5, "bos_token": {"content": "<|startoftext|>", "__type": "AddedToken"},
            "eos_token": "<|endoftext|>", "pad_token": "!"})");
  EXPECT_EQ(empty_prompt_ids(path("tok")), (std::vector<std::int64_t>{2, 3, 0, 0, 0}));
  // the specials from special_tokens_map.json when the config lacks them (SD1.5 pads with the end)
  write("tok/tokenizer_config.json", R"({"model_max_length": 4})");
  write("tok/special_tokens_map.json",
        R"({"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>"})");
  EXPECT_EQ(empty_prompt_ids(path("tok")), (std::vector<std::int64_t>{2, 3, 3, 3}));
  write("tok/special_tokens_map.json",
        R"({"bos_token": "<s>", "eos_token": "<|endoftext|>", "pad_token": "!"})");
  expect_refused([&] { empty_prompt_ids(path("tok")); }, {"vocab.json", "'<s>'"});
}

TEST_F(DiffusionConfigTest, PipelinesWithoutNativeFeaturesAndMissingPartsAreRefused) {
  write("flux/model_index.json", R"({"_class_name": "FluxPipeline"})");
  expect_refused([&] { read_diffusion_folder(path("flux")); },
                 {"model_index.json", "FluxPipeline", "TorchScript"});
  // SD3 needs both CLIP encoders; the T5 encoder is not read (its part of the prompt is zeros).
  write("sd3/model_index.json", R"({"_class_name": "StableDiffusion3Pipeline"})");
  for (const char* part : {"transformer", "vae", "scheduler", "text_encoder", "tokenizer", "tokenizer_2"})
    std::filesystem::create_directories(dir_ / "sd3" / part);
  expect_refused([&] { read_diffusion_folder(path("sd3")); }, {"no text_encoder_2/"});
  std::filesystem::create_directories(dir_ / "sd3" / "text_encoder_2");
  EXPECT_EQ(read_diffusion_folder(path("sd3")).pipeline, DiffusionPipeline::sd3);
  write("dit/model_index.json", R"({"_class_name": "DiTPipeline"})");
  expect_refused([&] { read_diffusion_folder(path("dit")); }, {"no transformer/"});
  write("sd/model_index.json", R"({"_class_name": "StableDiffusionPipeline"})");
  for (const char* part : {"unet", "vae", "scheduler", "text_encoder"})
    std::filesystem::create_directories(dir_ / "sd" / part);
  expect_refused([&] { read_diffusion_folder(path("sd")); }, {"no tokenizer/"});
  std::filesystem::create_directories(dir_ / "sd" / "tokenizer");
  EXPECT_EQ(read_diffusion_folder(path("sd")).pipeline, DiffusionPipeline::stable_diffusion);
}

TEST_F(DiffusionConfigTest, DiTConfigUnderBothClassNames) {
  const std::string dit =
      R"({"_class_name": "Transformer2DModel", "num_attention_heads": 16, "attention_head_dim": 72,
    "num_layers": 28, "sample_size": 64, "patch_size": 2, "norm_type": "ada_norm_zero", "num_embeds_ada_norm": 1000)";
  const auto c = read_dit_config(write("t.json", dit + "}"));
  EXPECT_EQ(c.width(), 1152);
  EXPECT_EQ(c.layers, 28);
  EXPECT_EQ(c.num_classes, 1000);
  expect_refused([&] { read_dit_config(write("t.json", dit + R"(, "norm_type": "ada_norm_single"})")); },
                 {"norm_type"});
  expect_refused([&] { read_dit_config(write("t.json", dit + R"(, "cross_attention_dim": 1152})")); },
                 {"cross_attention_dim"});
}

// SD3 medium's released config, and SD3.5's additions.
TEST_F(DiffusionConfigTest, SD3ConfigAndWhatIsRefused) {
  const std::string sd3 =
      R"({"_class_name": "SD3Transformer2DModel", "attention_head_dim": 64, "caption_projection_dim": 1536,
    "in_channels": 16, "joint_attention_dim": 4096, "num_attention_heads": 24, "num_layers": 24, "out_channels": 16,
    "patch_size": 2, "pooled_projection_dim": 2048, "pos_embed_max_size": 192, "sample_size": 128)";
  const auto c = read_sd3_config(write("t.json", sd3 + "}"));
  EXPECT_EQ(c.width(), 1536);
  EXPECT_EQ(c.layers, 24);
  EXPECT_EQ(c.pos_embed_max_size, 192);
  EXPECT_FALSE(c.qk_rms_norm);
  EXPECT_EQ(c.dual_attention, std::vector<bool>(24, false));
  const auto sd35 =
      read_sd3_config(write("t.json", sd3 + R"(, "qk_norm": "rms_norm", "dual_attention_layers": [0, 2]})"));
  EXPECT_TRUE(sd35.qk_rms_norm);
  EXPECT_TRUE(sd35.dual_attention[0] && !sd35.dual_attention[1] && sd35.dual_attention[2]);
  expect_refused([&] { read_sd3_config(write("t.json", sd3 + R"(, "qk_norm": "layer_norm"})")); },
                 {"t.json", "qk_norm", "layer_norm"});
  expect_refused([&] { read_sd3_config(write("t.json", sd3 + R"(, "dual_attention_layers": [24]})")); },
                 {"dual_attention_layers", "24"});
  expect_refused([&] { read_sd3_config(write("t.json", sd3 + R"(, "caption_projection_dim": 1152})")); },
                 {"caption_projection_dim", "1536"});
  const auto flow = read_noise_schedule_config(
      write("s.json", R"({"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000,
      "shift": 3.0})"));
  EXPECT_TRUE(flow.flow_matching);
  EXPECT_DOUBLE_EQ(flow.shift, 3.0);
  expect_refused(
      [&] {
        read_noise_schedule_config(write(
            "s.json", R"({"_class_name": "FlowMatchEulerDiscreteScheduler", "use_dynamic_shifting": true})"));
      },
      {"s.json", "use_dynamic_shifting"});
}

TEST_F(DiffusionConfigTest, ScheduleAndAutoencoderSettings) {
  const auto s = read_noise_schedule_config(
      write("s.json", R"({"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear"})"));
  EXPECT_EQ(s.beta_schedule, "scaled_linear");
  EXPECT_EQ(s.num_train_timesteps, 1000);
  expect_refused([&] { read_noise_schedule_config(write("s.json", R"({"trained_betas": [0.1]})")); },
                 {"trained_betas"});
  expect_refused([&] { read_noise_schedule_config(write("s.json", R"({"beta_schedule": "sigmoid"})")); },
                 {"sigmoid"});
  const auto vae = read_autoencoder_config(
      write("v.json", R"({"block_out_channels": [8, 16, 16], "down_block_types": ["DownEncoderBlock2D",
      "DownEncoderBlock2D", "DownEncoderBlock2D"], "norm_num_groups": 4, "scaling_factor": 0.13025})"));
  EXPECT_EQ(vae.downsampling(), 4);
  EXPECT_DOUBLE_EQ(vae.scaling_factor, 0.13025);
  EXPECT_TRUE(vae.use_quant_conv);
}

}  // namespace
}  // namespace acsweep::models
