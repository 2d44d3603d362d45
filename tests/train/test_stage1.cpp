// Stage-1 projector training and the A score on a tiny world written in the real formats
// (tests/fixtures/tiny_world.py): the loss falls, the held-out A score rises over the untrained
// projector's, the same seeds give the same weights, and splitting the global batch into other
// micro-batches gives the same steps (the loss is token-weighted over the global batch); bf16
// autocast stays within its precision of float32 and leaves no trace. The schedule against
// transformers' formula worked by hand.
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "acsweep/data/llava.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/scores/alignment.hpp"
#include "acsweep/train/schedule.hpp"
#include "acsweep/train/stage1.hpp"
#include "temp_dir.hpp"

namespace acsweep::train {
namespace {

class Stage1 : public acsweep::testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    const std::string command =
        ACSWEEP_PYTHON " " ACSWEEP_TESTS_DIR "/fixtures/tiny_world.py " + dir_.string() + " 3";
    ASSERT_EQ(std::system(command.c_str()), 0);
    llm_ = models::load_llama(path("llm"));
    freeze(*llm_);
    tokenizer_ = std::make_unique<models::Tokenizer>(path("llm/tokenizer.model"));
    const auto captions =
        models::plain_captions(*tokenizer_, data::read_llava_json(path("captions.json"), path("images")));
    train_.assign(captions.begin(), captions.end() - 8);
    heldout_.assign(captions.end() - 8, captions.end());
  }
  models::VisionRepresentation representation() {
    std::vector<std::unique_ptr<models::VisionEncoder>> members;
    members.push_back(models::load_vision_encoder(path("encoders/clip")));
    return models::VisionRepresentation(std::move(members));
  }
  Stage1Options options(std::int64_t micro_batch) const {
    Stage1Options o;
    o.learning_rate = 3e-3;
    o.global_batch = 8;
    o.micro_batch = micro_batch;
    o.epochs = 3;
    o.warmup_ratio = 0.1;
    o.data_seed = 11;
    o.init_seed = 12;
    return o;
  }

  models::LlamaForCausalLM llm_{nullptr};
  std::unique_ptr<models::Tokenizer> tokenizer_;
  std::vector<models::ImagePrompt> train_, heldout_;
};

double mean(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / v.size(); }

TEST_F(Stage1, LossFallsAndHeldOutAlignmentRises) {
  auto rep = representation();
  std::vector<Stage1Progress> seen;
  const auto result =
      train_projector(llm_, rep, train_, options(4), [&](const Stage1Progress& p) { seen.push_back(p); });
  ASSERT_EQ(result.step_loss.size(), 15u);  // 40 captions in steps of 8, three epochs
  ASSERT_EQ(seen.size(), 15u);
  EXPECT_EQ(seen.back().step, 15);
  EXPECT_EQ(result.examples, 40u);
  const double first = (result.step_loss[0] + result.step_loss[1]) / 2;
  const double last = (result.step_loss[13] + result.step_loss[14]) / 2;
  EXPECT_LT(last, first - 0.3) << "Stage 1 did not learn";

  torch::manual_seed(12);
  models::Projector untrained(rep.channels(), llm_->config().hidden_size);
  auto trained = result.projector;
  const auto before = scores::score_alignment(llm_, rep, untrained, heldout_, 3);
  const auto after = scores::score_alignment(llm_, rep, trained, heldout_, 3);
  ASSERT_EQ(after.size(), 8u);
  EXPECT_GT(mean(after), mean(before) + 0.3);
  // Batched scoring equals one caption at a time.
  const auto one_by_one = scores::score_alignment(llm_, rep, trained, heldout_, 1);
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_NEAR(after[i], one_by_one[i], 1e-5);
}

TEST_F(Stage1, SameSeedsSameWeightsAndMicroBatchesDoNotMatter) {
  auto rep = representation();
  auto o = options(4);
  o.epochs = 1;
  const auto a = train_projector(llm_, rep, train_, o);
  const auto b = train_projector(llm_, rep, train_, o);
  auto one_at_a_time = options(1);
  one_at_a_time.epochs = 1;
  const auto c = train_projector(llm_, rep, train_, one_at_a_time);
  auto pa = a.projector->parameters(), pb = b.projector->parameters(), pc = c.projector->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(torch::equal(pa[i], pb[i]));
    EXPECT_TRUE(torch::allclose(pa[i], pc[i], 1e-5, 1e-6));
  }
  for (std::size_t s = 0; s < a.step_loss.size(); ++s) EXPECT_NEAR(a.step_loss[s], c.step_loss[s], 1e-5);
  auto other = o;
  other.data_seed = 99;
  const auto d = train_projector(llm_, rep, train_, other);
  EXPECT_NE(a.step_loss[0], d.step_loss[0]) << "the data order comes from the seed";
}

TEST_F(Stage1, Bf16AutocastFollowsFloat32WithinItsPrecision) {
  auto rep = representation();
  auto o = options(4);
  o.epochs = 1;
  const auto fp32 = train_projector(llm_, rep, train_, o);
  o.bf16 = true;
  const auto bf16 = train_projector(llm_, rep, train_, o);
  // The matrix products ran in bfloat16 (8 significant bits): the curve moves, within a few percent.
  EXPECT_NE(bf16.step_loss, fp32.step_loss) << "autocast changed nothing";
  ASSERT_EQ(bf16.step_loss.size(), fp32.step_loss.size());
  for (std::size_t s = 0; s < fp32.step_loss.size(); ++s)
    EXPECT_NEAR(bf16.step_loss[s], fp32.step_loss[s], 3e-2 * std::abs(fp32.step_loss[s])) << "step " << s;
  // The weights stay float32, and autocast ends with its scope: float32 again after it.
  for (const auto& p : bf16.projector->parameters()) EXPECT_EQ(p.scalar_type(), torch::kFloat32);
  EXPECT_FALSE(at::autocast::is_autocast_enabled(at::kCPU));
  o.bf16 = false;
  EXPECT_EQ(train_projector(llm_, rep, train_, o).step_loss, fp32.step_loss);
}

TEST_F(Stage1, ActivationCheckpointingTrainsTheSameProjector) {
  // The frozen LLM's layers recomputed in the backward: the same projector gradients, so the same
  // curve and weights up to float rounding; and the LLM is its plain self again afterwards.
  auto rep = representation();
  auto o = options(4);
  o.epochs = 1;
  const auto plain = train_projector(llm_, rep, train_, o);
  o.activation_checkpointing = true;
  bool recomputing = true;  // at every step, the layers run through the checkpointing wrapper
  const auto checkpointed = train_projector(llm_, rep, train_, o, [&](const Stage1Progress&) {
    recomputing = recomputing && static_cast<bool>(llm_->layer_call());
  });
  EXPECT_TRUE(recomputing);
  ASSERT_EQ(checkpointed.step_loss.size(), plain.step_loss.size());
  for (std::size_t s = 0; s < plain.step_loss.size(); ++s)
    EXPECT_NEAR(checkpointed.step_loss[s], plain.step_loss[s], 1e-5 * std::abs(plain.step_loss[s]))
        << "step " << s;
  auto pa = plain.projector->parameters(), pb = checkpointed.projector->parameters();
  for (std::size_t i = 0; i < pa.size(); ++i) EXPECT_TRUE(torch::allclose(pa[i], pb[i], 1e-5, 1e-6));
  EXPECT_FALSE(static_cast<bool>(llm_->layer_call()));
}

TEST_F(Stage1, MaxLengthLeavesLongerCaptionsOutAndCountsThem) {
  auto rep = representation();
  auto o = options(4);
  o.epochs = 1;
  EXPECT_EQ(train_projector(llm_, rep, train_, o).skipped_too_long, 0u);
  std::vector<std::size_t> lengths;  // with the visual tokens
  for (const auto& caption : train_)
    lengths.push_back(
        models::spliced_length(caption.prompt, static_cast<std::size_t>(rep.visual_token_count())));
  const std::size_t longest = *std::max_element(lengths.begin(), lengths.end());
  o.max_length = static_cast<std::int64_t>(longest) - 1;
  const auto longer = static_cast<std::size_t>(
      std::count_if(lengths.begin(), lengths.end(), [&](std::size_t n) { return n > longest - 1; }));
  const auto cut = train_projector(llm_, rep, train_, o);
  EXPECT_GE(longer, 1u);
  EXPECT_EQ(cut.skipped_too_long, longer);
  EXPECT_EQ(cut.examples, train_.size() - longer);
}

TEST(Schedule, WarmupThenCosineAsTransformers) {
  EXPECT_EQ(warmup_steps(100, 0.03), 3);
  EXPECT_EQ(warmup_steps(10, 0.03), 1);  // ceil
  EXPECT_DOUBLE_EQ(cosine_with_warmup(0, 100, 3, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(cosine_with_warmup(2, 100, 3, 1.0), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(cosine_with_warmup(3, 100, 3, 1.0), 1.0);
  EXPECT_NEAR(cosine_with_warmup(53, 103, 3, 2.0), 1.0, 1e-12);  // half way through the decay: half the peak
  EXPECT_NEAR(cosine_with_warmup(100, 100, 3, 1.0), 0.0, 1e-12);
}

}  // namespace
}  // namespace acsweep::train
