// The memory plan's arithmetic (train/memory_plan.hpp):
//  - the parameter counts equal those of the modules LibTorch builds (tied and untied heads, GQA);
//  - Vicuna-7B's count by hand (6,738,415,616) and its float32 weights;
//  - model state per rank falls as 1/W with sharding, and each level saves what it says;
//  - activation checkpointing and bf16 lower the saved activations; the plan grows with the
//    micro-batch;
//  - the peak is the state plus what is alive together (When), the loss chunk by hand;
//  - bf16 weights halve weights and gradients; shard level parameters holds two layers whole (one
//  prefetched);
//  - the shipped paper sweep's Stage 2 (Vicuna-7B, groups of 8, micro-batch 16, 2048 tokens,
//    CLIP-L/336) fits an 80 GB card in bf16 at `gradients`, and in float32 unsharded it does not.
#include <gtest/gtest.h>

#include "acsweep/models/llama.hpp"
#include "acsweep/models/projector.hpp"
#include "acsweep/train/memory_plan.hpp"
#include "acsweep/train/sharded_adamw.hpp"

namespace acsweep::train {
namespace {

std::int64_t count(torch::nn::Module& module) {
  std::int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

std::int64_t part(const MemoryPlan& plan, const std::string& name) {
  for (const auto& p : plan.parts)
    if (p.name == name) return p.bytes;
  return -1;
}

models::LlamaConfig vicuna_7b() { return models::llama_config({32000, 4096, 11008, 32, 32, 32, 128}, 4096); }

TEST(MemoryPlan, ParameterCountsAreThoseOfTheModules) {
  for (const bool tied : {false, true}) {
    for (const bool biases : {false, true}) {  // Qwen2's q, k and v biases, and Llama's attention_bias
      auto config = models::llama_config({61, 32, 48, 3, 4, 2, 8});
      config.tie_word_embeddings = tied;
      config.qkv_bias = biases;
      config.o_bias = biases && tied;
      models::LlamaForCausalLM llm(config);
      EXPECT_EQ(llama_parameters(config), count(*llm)) << tied << biases;
    }
  }
  models::Projector projector(24, 32);
  EXPECT_EQ(projector_parameters(24, 32), count(*projector));
}

// Qwen2.5-14B: 48 layers of 5120, 40 query and 8 key-value heads of 128, MLP 13824, vocabulary
// 152064, untied, q/k/v biases: 14.77 billion, the model card's "14.7B".
TEST(MemoryPlan, Qwen25_14BByHand) {
  auto config = models::llama_config({152064, 5120, 13824, 48, 40, 8, 128}, 32768);
  config.qkv_bias = true;
  EXPECT_EQ(llama_parameters(config), 14770033664);
}

TEST(MemoryPlan, Vicuna7BByHand) {
  EXPECT_EQ(llama_parameters(vicuna_7b()), 6738415616);
  TrainingShape shape;
  shape.vision_channels = 1024;
  const auto plan = plan_training(vicuna_7b(), shape, ShardLevel::none);
  const std::int64_t projector = 1024 * 4096 + 4096 + 4096 * 4096 + 4096;
  EXPECT_EQ(part(plan, "weights"), 4 * (6738415616 + projector));
  EXPECT_EQ(part(plan, "gradients"), 4 * (6738415616 + projector));
  EXPECT_EQ(part(plan, "optimizer"), 8 * (6738415616 + projector));
}

TEST(MemoryPlan, ThePeakIsTheStatePlusWhatIsAliveTogether) {
  MemoryPlan plan;
  plan.parts = {{"state", 100, When::step},      {"saved", 50, When::pass},      {"loss", 7, When::loss},
                {"gradient", 9, When::backward}, {"buckets", 2, When::backward}, {"adamw", 40, When::update},
                {"reduce", 30, When::reduction}};
  EXPECT_EQ(plan.total(), 100 + 50 + 9 + 2);  // the pass with its larger moment
  plan.parts.push_back({"more adamw", 30, When::update});
  EXPECT_EQ(plan.total(), 100 + 40 + 30);  // AdamW's step, after the pass, is larger now
  plan.parts.push_back({"encoder pass", 71, When::encode});
  EXPECT_EQ(plan.total(), 100 + 71);  // the encoders' forward, before the pass, is the largest now
}

TEST(MemoryPlan, TheEncodersForwardComesBeforeThePass) {
  TrainingShape shape;
  shape.vision_channels = 1024;
  shape.train_llm = false;
  shape.encoder_pass_bytes = std::int64_t{1} << 20;
  const auto plan = plan_training(vicuna_7b(), shape, ShardLevel::none);
  EXPECT_EQ(plan.held(When::encode), std::int64_t{1} << 20);
  EXPECT_GT(plan.total(), plan.held(When::step) + plan.held(When::encode));  // the pass is larger here
  shape.encoder_pass_bytes = std::int64_t{64} << 30;                         // and smaller here
  const auto larger = plan_training(vicuna_7b(), shape, ShardLevel::none);
  EXPECT_EQ(larger.total(), larger.held(When::step) + (std::int64_t{64} << 30));
}

TEST(MemoryPlan, TheLossChunkCoversTheTextPositionsAtMost64MiB) {
  const auto config = models::llama_config({1000, 256, 704, 4, 4, 4, 64});
  TrainingShape shape;
  shape.micro_batch = 2;
  shape.sequence = 100;
  shape.visual_tokens = 60;
  const std::int64_t chunk = 4 * 1000 * 2 * 40;  // 80 text positions, their float32 logits
  EXPECT_EQ(part(plan_training(config, shape, ShardLevel::none), "loss chunk"), 3 * chunk);
  shape.sequence = 100'000;  // more positions than 64 MiB of logits: 16,777 rows of 1,000
  EXPECT_EQ(part(plan_training(config, shape, ShardLevel::none), "loss chunk"), 3 * 4 * 1000 * 16777);
  // The head is the largest parameter: its gradient is made from the chunk's logits' gradient.
  EXPECT_EQ(part(plan_training(config, shape, ShardLevel::none), "gradient in flight"),
            4 * 1000 * 256 + 4 * 1000 * 16777);
}

TEST(MemoryPlan, ModelStateFallsAsOneOverTheGroup) {
  const auto config = models::llama_config({1000, 256, 704, 4, 4, 4, 64});
  TrainingShape shape;
  shape.vision_channels = 64;
  const auto state = [&](std::int64_t group, ShardLevel level) {
    shape.group = group;
    const auto plan = plan_training(config, shape, level);
    return part(plan, "gradients") + part(plan, "optimizer") +
           std::max<std::int64_t>(0, part(plan, "master"));
  };
  const std::int64_t trainable = llama_parameters(config) + projector_parameters(64, 256);
  EXPECT_EQ(state(1, ShardLevel::none), 12 * trainable);
  EXPECT_EQ(state(4, ShardLevel::none), 12 * trainable);  // unsharded: the group does not matter
  for (const std::int64_t w : {1, 2, 4, 8}) {
    const std::int64_t shard = (trainable + w - 1) / w;
    EXPECT_EQ(state(w, ShardLevel::gradients), 16 * shard) << w;  // gradient, moments, master: 1/W
    EXPECT_EQ(state(w, ShardLevel::optimizer), 16 * shard + 4 * trainable) << w;
  }
  shape.group = 4;
  EXPECT_GT(part(plan_training(config, shape, ShardLevel::gradients), "communication"), 0);
  EXPECT_EQ(part(plan_training(config, shape, ShardLevel::none), "communication"), -1);  // not a part
}

TEST(MemoryPlan, Bf16WeightsHalveWeightsAndGradientsAndNeedNoCopies) {
  const auto config = vicuna_7b();
  TrainingShape shape;
  shape.vision_channels = 1024;
  shape.group = 8;
  shape.bf16 = true;
  const std::int64_t n = 6738415616, projector = 1024 * 4096 + 4096 + 4096 * 4096 + 4096;
  const auto fp32 = plan_training(config, shape, ShardLevel::optimizer);
  shape.weight_bytes = 2;
  const auto bf16 = plan_training(config, shape, ShardLevel::optimizer);
  EXPECT_EQ(part(fp32, "weights"), 4 * (n + projector));
  EXPECT_EQ(part(bf16, "weights"), 2 * (n + projector));
  const std::int64_t shard = (n + projector + 7) / 8;
  EXPECT_EQ(part(bf16, "gradients"), 4 * shard + 2 * (n + projector));  // float32 shard, bf16 buckets
  EXPECT_EQ(part(bf16, "master"), part(fp32, "master"));
  EXPECT_EQ(part(bf16, "optimizer"), part(fp32, "optimizer"));
  EXPECT_EQ(part(fp32, "bf16 weight copies"), 2 * n);
  EXPECT_EQ(part(bf16, "bf16 weight copies"), -1);  // not a part: the weights are bf16 already
}

TEST(MemoryPlan, ParametersLevelHoldsTwoDecoderLayersWhole) {
  const auto config = vicuna_7b();
  TrainingShape shape;
  shape.vision_channels = 1024;
  shape.sequence = 2048;
  shape.group = 8;
  shape.weight_bytes = 2;
  shape.bf16 = true;
  const std::int64_t n = 6738415616, projector = 1024 * 4096 + 4096 + 4096 * 4096 + 4096;
  const std::int64_t outside = 4096 + 2 * 32000 * 4096, layer = (n - outside) / 32;
  EXPECT_EQ(layer, 4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096);  // by hand: attention, MLP, norms
  const auto gradients = plan_training(config, shape, ShardLevel::gradients);
  const auto parameters = plan_training(config, shape, ShardLevel::parameters);
  // The running layer and the next one, prefetched, in two buffers.
  EXPECT_EQ(part(parameters, "weights"), 2 * (outside + 2 * layer + projector));
  EXPECT_LT(part(parameters, "weights") * 9, part(gradients, "weights"));
  EXPECT_EQ(part(parameters, "master"), part(gradients, "master"));
  EXPECT_EQ(part(parameters, "gradients"), part(gradients, "gradients") + 2 * layer);
  // Every layer is recomputed, with or without activation checkpointing.
  shape.activation_checkpointing = true;
  EXPECT_EQ(part(plan_training(config, shape, ShardLevel::parameters), "activations"),
            part(parameters, "activations"));
  EXPECT_EQ(part(plan_training(config, shape, ShardLevel::gradients), "activations"),
            part(parameters, "activations"));
  // Model state per rank falls as 1/W but for the weights outside the layers and two layers.
  for (const std::int64_t w : {2, 4, 8}) {
    shape.group = w;
    const auto plan = plan_training(config, shape, ShardLevel::parameters);
    const std::int64_t shard = (n + projector + w - 1) / w;
    EXPECT_EQ(part(plan, "optimizer") + part(plan, "master"), 12 * shard) << w;
  }
}

TEST(MemoryPlan, CheckpointingAndBf16SaveActivationsAndTheMicroBatchCosts) {
  const auto config = vicuna_7b();
  TrainingShape shape;
  shape.vision_channels = 1024;
  shape.sequence = 2048;
  const auto activations = [&](bool checkpointing, bool bf16, std::int64_t micro) {
    shape.activation_checkpointing = checkpointing;
    shape.bf16 = bf16;
    shape.micro_batch = micro;
    return part(plan_training(config, shape, ShardLevel::none), "activations");
  };
  EXPECT_LT(activations(true, false, 1) * 5, activations(false, false, 1));
  EXPECT_LT(activations(false, true, 1), activations(false, false, 1));
  EXPECT_GT(activations(false, true, 2), activations(false, true, 1) * 19 / 10);
  // Per token, one layer: float32 of the Llama layer's saved tensors, counted by hand
  // (norms 2 x 2h, q/k/v/o/gate/up inputs 2h + q, attention 2q + 2kv, SwiGLU 4i; RoPE keeps only
  // its cos and sin tables).
  const std::int64_t h = 4096, i = 11008;
  EXPECT_EQ(layer_activation_bytes_per_token(config, false), 4 * (4 * h + 2 * h + h + 4 * h + 4 * i));
}

TEST(MemoryPlan, ThePaperSweepStage2FitsAn80GBCard) {
  TrainingShape shape;
  shape.vision_channels = 1024;  // CLIP-L/336
  shape.visual_tokens = 576;     // 24 x 24
  shape.encoder_bytes = 4 * 304'000'000;
  shape.sequence = 2048;
  shape.group = 8;
  shape.bf16 = true;
  shape.activation_checkpointing = true;
  shape.micro_batch = 8;
  const std::int64_t card = 80'000'000'000;
  EXPECT_LE(plan_training(vicuna_7b(), shape, ShardLevel::gradients).total(), card);
  shape.micro_batch = 16;  // LLaVA's, and the shipped job's: with bf16 weights over float32 masters
  shape.weight_bytes = 2;
  EXPECT_LE(plan_training(vicuna_7b(), shape, ShardLevel::gradients).total(), card);
  EXPECT_LE(plan_training(vicuna_7b(), shape, ShardLevel::parameters).total(), card * 6 / 10);
  shape.weight_bytes = 4;
  shape.activation_checkpointing = false;
  EXPECT_GT(plan_training(vicuna_7b(), shape, ShardLevel::none).total(), card);
}

}  // namespace
}  // namespace acsweep::train
