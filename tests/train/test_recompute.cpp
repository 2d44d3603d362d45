// Recomputation in the backward pass (models/recompute.hpp) on a small random Llama:
//  - activation checkpointing against the plain backward pass: the loss, the gradient of every
//    parameter and of the input embeddings agree (float32, and under bf16 autocast, whose state
//    the recompute must restore); the graph holds one node per layer; without grad mode it is the
//    plain forward pass;
//  - the loss in chunks of recomputed logits equals log_softmax over the full [B, T, vocab]
//    logits, in value and in the gradients of the visual tokens and of every parameter.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "acsweep/models/multimodal.hpp"
#include "acsweep/train/activation_checkpoint.hpp"
#include "acsweep/train/autocast.hpp"
#include "tensor_checks.hpp"

namespace acsweep::train {
namespace {

models::LlamaForCausalLM small_llama() {
  const auto config = models::llama_config({61, 32, 48, 3, 4, 2, 8});
  torch::manual_seed(5);
  models::LlamaForCausalLM llm(config);
  for (auto& p : llm->parameters()) {
    torch::NoGradGuard no_grad;
    p.copy_(torch::randn(p.sizes()) * 0.2);  // larger than the default init, so every layer matters
  }
  return llm;
}

struct Pass {
  torch::Tensor loss, input_grad;
  std::vector<torch::Tensor> grads;
};

Pass run(models::LlamaForCausalLM& llm, bool checkpointing, bool bf16) {
  torch::manual_seed(9);
  const auto input = torch::randn({2, 7, 32}).requires_grad_(true);
  const auto targets = torch::randint(0, 61, {2 * 7});
  for (auto& p : llm->parameters()) p.mutable_grad() = torch::Tensor();
  Pass out;
  {
    const LayerCheckpointing layers(llm, checkpointing);
    torch::Tensor logits;
    {
      const Bf16Autocast autocast(torch::kCPU, bf16);
      logits = llm->forward(input);
    }
    out.loss = torch::nll_loss(torch::log_softmax(logits.to(torch::kFloat32).reshape({14, 61}), -1), targets);
    out.loss.backward();
  }
  out.input_grad = input.grad();
  for (const auto& p : llm->parameters())  // the embeddings take none: the input is embeddings
    out.grads.push_back(p.grad().defined() ? p.grad().clone() : torch::Tensor());
  return out;
}

void expect_same_pass(bool bf16) {
  auto llm = small_llama();
  const Pass plain = run(llm, false, bf16), checkpointed = run(llm, true, bf16);
  const double tolerance = 1e-6;  // the same computation, in bf16 too: rounding only
  testing::expect_close(checkpointed.loss, plain.loss, "loss", tolerance);
  testing::expect_close(checkpointed.input_grad, plain.input_grad, "input gradient", tolerance);
  const auto names = llm->named_parameters();
  ASSERT_EQ(checkpointed.grads.size(), plain.grads.size());
  for (std::size_t i = 0; i < plain.grads.size(); ++i) {
    ASSERT_EQ(checkpointed.grads[i].defined(), plain.grads[i].defined()) << names[i].key();
    if (names[i].key() == "model.embed_tokens.weight") continue;
    ASSERT_TRUE(plain.grads[i].defined()) << names[i].key();
    EXPECT_GT(plain.grads[i].abs().max().item<double>(), 0.0) << names[i].key();
    testing::expect_close(checkpointed.grads[i], plain.grads[i], names[i].key(), tolerance);
  }
}

TEST(ActivationCheckpointing, GradientsEqualThePlainBackward) { expect_same_pass(false); }

TEST(ActivationCheckpointing, GradientsEqualThePlainBackwardUnderBf16Autocast) { expect_same_pass(true); }

TEST(ActivationCheckpointing, FrozenParametersGetNoGradientAndTheInputStillDoes) {
  auto llm = small_llama();
  for (auto& p : llm->parameters()) p.set_requires_grad(false);
  const auto input = torch::randn({1, 5, 32}).requires_grad_(true);
  {
    const LayerCheckpointing layers(llm, true);
    llm->forward(input).sum().backward();
  }
  for (const auto& p : llm->parameters()) EXPECT_FALSE(p.grad().defined());
  ASSERT_TRUE(input.grad().defined());
  const auto plain_input = input.detach().clone().requires_grad_(true);
  llm->forward(plain_input).sum().backward();
  testing::expect_close(input.grad(), plain_input.grad(), "input gradient", 1e-6);
}

TEST(ActivationCheckpointing, WithoutGradModeItIsThePlainForwardAndTheModelIsRestored) {
  auto llm = small_llama();
  const auto input = torch::randn({1, 6, 32});
  torch::NoGradGuard no_grad;
  const auto plain = llm->forward(input);
  {
    const LayerCheckpointing layers(llm, true);
    EXPECT_TRUE(static_cast<bool>(llm->layer_call()));
    EXPECT_TRUE(torch::equal(llm->forward(input), plain));
  }
  EXPECT_FALSE(static_cast<bool>(llm->layer_call()));
}

TEST(ActivationCheckpointing, EachLayerIsOneNodeOfTheGraph) {
  // A plain layer leaves dozens of operations in the autograd graph, each holding what it saved;
  // a checkpointed one leaves one node holding the layer's input.
  auto llm = small_llama();
  const auto input = torch::randn({2, 16, 32}).requires_grad_(true);
  auto nodes = [&](bool checkpointing) {
    const LayerCheckpointing layers(llm, checkpointing);
    const auto logits = llm->forward(input);
    std::vector<torch::autograd::Node*> stack{logits.grad_fn().get()};
    std::set<torch::autograd::Node*> seen;
    while (!stack.empty()) {
      auto* node = stack.back();
      stack.pop_back();
      if (node == nullptr || !seen.insert(node).second) continue;
      for (const auto& edge : node->next_edges()) stack.push_back(edge.function.get());
    }
    return seen.size();
  };
  EXPECT_LT(nodes(true) * 3, nodes(false));
}

// The log-probabilities as they were computed before the chunks: every logit, then the picks.
torch::Tensor full_logits_log_probs(models::LlamaForCausalLM& llm, const models::TokenizedPrompt& prompt,
                                    const torch::Tensor& visual) {
  const auto at = static_cast<std::int64_t>(prompt.image_positions[0]);
  const auto text = llm->embed(torch::tensor(prompt.ids).unsqueeze(0)).squeeze(0);
  const auto row = torch::cat({text.slice(0, 0, at), visual[0], text.slice(0, at)});
  const auto logits = llm->forward(row.unsqueeze(0))[0];
  std::vector<torch::Tensor> out;
  for (std::size_t i = 0; i < prompt.ids.size(); ++i) {
    if (!prompt.trainable[i]) continue;
    const auto position = static_cast<std::int64_t>(i < prompt.image_positions[0] ? i : i + visual.size(1));
    out.push_back(torch::log_softmax(logits[position - 1], -1)[prompt.ids[i]]);
  }
  return torch::stack(out);
}

TEST(ChunkedLoss, EqualsTheFullLogitsInValueAndGradientAtEveryChunkSize) {
  auto llm = small_llama();
  models::TokenizedPrompt prompt;
  prompt.ids = {1, 7, 12, 40, 3, 9, 22, 60, 5, 18, 33};
  prompt.trainable = {false, false, false, true, true, false, true, true, true, true, true};
  prompt.image_positions = {2};
  torch::manual_seed(3);
  const auto visual = torch::randn({1, 4, 32});
  auto pass = [&](std::int64_t chunk_rows) {
    const auto v = visual.clone().requires_grad_(true);
    for (auto& p : llm->parameters()) p.mutable_grad() = torch::Tensor();
    torch::Tensor log_probs;
    if (chunk_rows < 0) {
      log_probs = full_logits_log_probs(llm, prompt, v);
    } else {
      std::vector<std::int64_t> counts;
      log_probs = models::trainable_token_log_probs(llm, {&prompt}, v, counts, chunk_rows);
      EXPECT_EQ(counts, std::vector<std::int64_t>{7});
    }
    (log_probs * torch::arange(1, log_probs.size(0) + 1)).sum().backward();  // every row weighs differently
    std::vector<torch::Tensor> grads{log_probs.detach(), v.grad()};
    for (const auto& p : llm->parameters())
      if (p.grad().defined()) grads.push_back(p.grad().clone());
    return grads;
  };
  const auto want = pass(-1);
  for (const std::int64_t rows : {0, 1, 3, 7}) {  // one chunk; a row each; uneven; exactly all
    const auto got = pass(rows);
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i)
      testing::expect_close(got[i], want[i],
                            "chunks of " + std::to_string(rows) + ", tensor " + std::to_string(i), 1e-5);
  }
}

}  // namespace
}  // namespace acsweep::train
