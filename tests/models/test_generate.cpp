// Greedy generation on a random Llama in float64 (no near-ties between implementations): the KV
// cache gives the tokens that rerunning the whole sequence gives, a row in a left-padded batch
// gives what it gives alone, and the stop rules (stop token, stop condition, max_new_tokens, the
// context) end a row where they say. Against transformers' generate(): tests/golden.
#include <gtest/gtest.h>

#include "acsweep/error.hpp"
#include "acsweep/models/generate.hpp"

namespace acsweep::models {
namespace {

LlamaConfig tiny_config(std::int64_t context = 64) {
  LlamaConfig c;
  c.vocab_size = 53;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = context;
  return c;
}

LlamaForCausalLM tiny_model(std::int64_t context = 64) {
  torch::manual_seed(3);
  LlamaForCausalLM llm(tiny_config(context));
  {
    torch::NoGradGuard no_grad;  // wide weights: decisive, varied greedy choices
    for (auto& p : llm->parameters())
      if (p.dim() == 2) p.mul_(4.0);
  }
  llm->to(torch::kFloat64);
  llm->eval();
  return llm;
}

std::vector<torch::Tensor> prompts_of(LlamaForCausalLM& llm, const std::vector<std::int64_t>& lengths) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (const auto n : lengths) out.push_back(llm->embed(torch::randint(0, 53, {n}, torch::kInt64)));
  return out;
}

TEST(Generate, CacheGivesTheTokensOfRerunningTheWholeSequence) {
  auto llm = tiny_model();
  const auto prompts = prompts_of(llm, {3, 11, 6, 1});
  GenerationOptions cached;
  cached.max_new_tokens = 20;
  GenerationOptions rerun = cached;
  rerun.use_cache = false;
  const auto a = generate_greedy(llm, prompts, cached);
  const auto b = generate_greedy(llm, prompts, rerun);
  EXPECT_EQ(a, b);
  for (const auto& row : a) EXPECT_EQ(row.size(), 20u);
  // Not a degenerate model: the rows differ and a row is not one token repeated.
  EXPECT_NE(a[0], a[1]);
  EXPECT_GT(std::set<std::int64_t>(a[1].begin(), a[1].end()).size(), 2u);
}

TEST(Generate, ARowInALeftPaddedBatchDecodesAsItDoesAlone) {
  auto llm = tiny_model();
  const auto prompts = prompts_of(llm, {2, 9, 5});
  GenerationOptions options;
  options.max_new_tokens = 15;
  const auto together = generate_greedy(llm, prompts, options);
  for (std::size_t i = 0; i < prompts.size(); ++i)
    EXPECT_EQ(generate_greedy(llm, {prompts[i]}, options)[0], together[i]) << "row " << i;
}

TEST(Generate, FirstTokenIsTheArgMaxOfTheFullForward) {
  auto llm = tiny_model();
  const auto prompts = prompts_of(llm, {7});
  torch::NoGradGuard no_grad;
  const auto logits = llm->forward(prompts[0].unsqueeze(0));
  GenerationOptions options;
  options.max_new_tokens = 1;
  EXPECT_EQ(generate_greedy(llm, prompts, options)[0],
            std::vector<std::int64_t>{logits[0][-1].argmax().item<std::int64_t>()});
}

TEST(Generate, StopTokenAndStopConditionEndTheirRowOnly) {
  auto llm = tiny_model();
  const auto prompts = prompts_of(llm, {4, 8});
  GenerationOptions options;
  options.max_new_tokens = 12;
  const auto free = generate_greedy(llm, prompts, options);
  // Row 0's fourth token as the stop token: row 0 ends before it (it is not output), row 1 goes on
  // until its first occurrence, if any.
  const auto stop = free[0][3];
  options.stop_tokens = {stop};
  const auto stopped = generate_greedy(llm, prompts, options);
  const auto until = [&](const std::vector<std::int64_t>& row) {
    return std::vector<std::int64_t>(row.begin(), std::find(row.begin(), row.end(), stop));
  };
  EXPECT_EQ(stopped[0], until(free[0]));
  EXPECT_LE(stopped[0].size(), 3u);
  EXPECT_EQ(stopped[1], until(free[1]));
  // A condition on the tokens so far: the row ends with the token that made it hold (kept).
  GenerationOptions condition;
  condition.max_new_tokens = 12;
  condition.stop = [](const std::vector<std::int64_t>& tokens) { return tokens.size() == 5; };
  for (const auto& row : generate_greedy(llm, prompts, condition)) EXPECT_EQ(row.size(), 5u);
}

TEST(Generate, EndsAtTheContextAndRefusesALongerPrompt) {
  auto llm = tiny_model(/*context=*/10);
  GenerationOptions options;
  options.max_new_tokens = 50;
  const auto rows = generate_greedy(llm, prompts_of(llm, {4, 7}), options);
  EXPECT_EQ(rows[0].size(), 3u + 1u) << "7 + 3 fills the context; the last logits still give one token";
  EXPECT_EQ(rows[1].size(), 3u + 1u);
  EXPECT_THROW(generate_greedy(llm, prompts_of(llm, {11}), options), InputError);
  EXPECT_TRUE(generate_greedy(llm, {}, options).empty());
}

TEST(DecodingMask, RealKeysUpToTheQueryAndTheQueryItself) {
  const auto real = torch::tensor({0, 1, 1}, torch::kBool).view({1, 3});
  const auto mask = decoding_mask(real, 3)[0][0];
  const auto expected = torch::tensor({1, 0, 0, 0, 1, 0, 0, 1, 1}, torch::kBool).view({3, 3});
  EXPECT_TRUE(torch::equal(mask, expected)) << mask;
  EXPECT_TRUE(
      torch::equal(decoding_mask(real, 1)[0][0], torch::tensor({0, 1, 1}, torch::kBool).view({1, 3})));
}

}  // namespace
}  // namespace acsweep::models
