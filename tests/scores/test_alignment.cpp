// The caption log-likelihood of a tiny LLM whose weights are set by hand, so that every logit
// can be derived on paper: attention and MLP output projections are zero (each layer is the
// identity), the final norm weight is 1, and the head reads the two hidden units as the logits
// of tokens 0 and 1 (token 2's logit is always 0).
#include <gtest/gtest.h>

#include <cmath>

#include "acsweep/error.hpp"
#include "acsweep/scores/alignment.hpp"

namespace acsweep::scores {
namespace {

models::LlamaForCausalLM hand_set_llm() {
  models::LlamaConfig c = models::llama_config({3, 2, 1, 1, 1, 1, 2}, 8);
  c.rms_norm_eps = 1e-12;
  models::LlamaForCausalLM llm(c);
  torch::NoGradGuard no_grad;
  for (auto& p : llm->named_parameters()) {
    const std::string& name = p.key();
    if (name.find("norm") != std::string::npos)
      p.value().fill_(1.0);
    else
      p.value().zero_();
  }
  auto params = llm->named_parameters();
  params["model.embed_tokens.weight"].copy_(torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}, {1.0f, 1.0f}}));
  params["lm_head.weight"].copy_(torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}, {0.0f, 0.0f}}));
  llm->eval();
  return llm;
}

TEST(CaptionLogLikelihood, HandDerived) {
  auto llm = hand_set_llm();
  // Sequence after splicing: token 0, the visual token (0, 2), token 2, token 1.
  // RMS-normalised: v -> (0, sqrt2): logits (0, sqrt2, 0); token 2 = (1, 1) -> (1, 1): logits (1, 1, 0).
  models::TokenizedPrompt prompt{{0, 2, 1}, {false, true, true}, {1}};
  const double r2 = std::sqrt(2.0);
  const double log_p_2_after_visual = 0.0 - std::log(1.0 + std::exp(r2) + 1.0);
  const double log_p_1_after_2 = 1.0 - std::log(2.0 * std::exp(1.0) + 1.0);
  torch::NoGradGuard no_grad;
  const double a = caption_log_likelihood(llm, prompt, torch::tensor({{0.0f, 2.0f}}));
  EXPECT_NEAR(a, (log_p_2_after_visual + log_p_1_after_2) / 2, 1e-6);

  // Only the last token counted: the visual token does not matter to it (attention is off).
  prompt.trainable = {false, false, true};
  EXPECT_NEAR(caption_log_likelihood(llm, prompt, torch::tensor({{5.0f, -3.0f}})), log_p_1_after_2, 1e-6);
}

TEST(CaptionLogLikelihood, BadPrompts) {
  auto llm = hand_set_llm();
  torch::NoGradGuard no_grad;
  const auto visual = torch::zeros({1, 2});
  EXPECT_THROW(caption_log_likelihood(llm, {{0, 1}, {false, false}, {1}}, visual), std::invalid_argument);
  EXPECT_THROW(caption_log_likelihood(llm, {{0, 1}, {false, true}, {}}, visual), std::invalid_argument);
  try {
    caption_log_likelihood(llm, {{0, 1, 2, 1, 2, 1, 2, 1}, std::vector<bool>(8, true), {1}}, visual);
    FAIL() << "a prompt longer than the context was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("longer than the LLM's context of 8"), std::string::npos);
  }
}

TEST(CaptionLogLikelihood, BatchEqualsOneByOne) {
  // Prompts of different lengths padded into one batch give each its own value.
  auto llm = hand_set_llm();
  torch::NoGradGuard no_grad;
  const models::TokenizedPrompt shorter{{0, 2}, {false, true}, {1}},
      longer{{0, 2, 1, 0}, {false, true, true, true}, {1}};
  const auto visual = torch::tensor({{{0.0f, 2.0f}}, {{1.0f, -1.0f}}});
  const auto batch = caption_log_likelihoods(llm, {&shorter, &longer}, visual);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_NEAR(batch[0], caption_log_likelihood(llm, shorter, visual[0]), 1e-6);
  EXPECT_NEAR(batch[1], caption_log_likelihood(llm, longer, visual[1]), 1e-6);
}

TEST(AlignmentSimilarity, BestMatchPerTokenByHand) {
  // Token (1, 0) matches reference (2, 0) exactly; token (0, 1) is best matched by (1, 1): cos 1/sqrt2.
  const auto tokens = torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}});
  const auto reference = torch::tensor({{2.0f, 0.0f}, {1.0f, 1.0f}, {-1.0f, 0.0f}});
  EXPECT_NEAR(alignment_similarity(tokens, reference), (1.0 + 1.0 / std::sqrt(2.0)) / 2, 1e-6);
  EXPECT_NEAR(alignment_similarity(reference, reference), 1.0, 1e-6);
}

}  // namespace
}  // namespace acsweep::scores
