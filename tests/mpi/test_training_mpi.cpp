// Data-parallel training at the rank count this test runs with (CTest: 1, 2 and 4):
//  - the reducer: every trainable parameter in exactly one bucket, frozen ones in none; the
//    average of per-rank gradients; a parameter with no gradient on some ranks neither hangs
//    the group nor spoils the average;
//  - Stage 2 on the tiny world (tests/fixtures/tiny_world.py), its reductions overlapping the
//    backward: W ranks follow the loss curve of one rank (run here too, on MPI_COMM_SELF) to 1e-5
//    over 20 steps and end with its weights, with activation checkpointing too;
//  - collectives: reduce-scatter and all-gather; the sharded AdamW at both levels takes the steps
//    of a replicated AdamW, frees the gradients at `gradients`, and keeps 1/W of the state;
//  - Stage 2 sharded at either level follows the one-rank curve too; a sharded checkpoint
//    written by W ranks resumes in a group of W/2 (re-sharded) as if never stopped, incomplete
//    checkpoints are skipped, old ones pruned; a checkpoint of another shard level is refused;
//  - on one rank, a run stopped after a checkpoint and resumed is bit-identical to one that was
//    never stopped;
//  - Stage 1 data-parallel: W ranks follow one rank's loss curve to 1e-5 and end with its
//    projector, every rank with the same one.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "acsweep/data/llava.hpp"
#include "acsweep/error.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/train/activation_checkpoint.hpp"
#include "acsweep/train/checkpoint.hpp"
#include "acsweep/train/divergence.hpp"
#include "acsweep/train/reducer.hpp"
#include "acsweep/train/sharded_adamw.hpp"
#include "acsweep/train/stage1.hpp"
#include "acsweep/train/stage2.hpp"

namespace acsweep::train {
namespace {
namespace fs = std::filesystem;

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int world_size() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

TEST(GradientReducer, EveryTrainableParameterInOneBucketFrozenInNone) {
  MpiAllReduce all_reduce(MPI_COMM_WORLD);
  std::vector<torch::Tensor> params;
  for (const std::int64_t n : {300000, 5, 70000, 1, 250000, 12})
    params.push_back(torch::zeros({n}, torch::requires_grad()));
  params[3].set_requires_grad(false);
  GradientReducer reducer(params, all_reduce, GradientReducer::Averaging::divide, 4 * 1000, 4 * 400000);
  std::vector<int> seen(params.size(), 0);
  std::size_t listed = 0;
  for (const auto& bucket : reducer.buckets())
    for (const auto i : bucket.members) {
      ++listed;
      for (std::size_t k = 0; k < params.size(); ++k)
        if (reducer.parameters()[i].is_same(params[k])) ++seen[k];
    }
  EXPECT_EQ(listed, 5u);
  EXPECT_EQ(seen, (std::vector<int>{1, 1, 1, 0, 1, 1}));
  EXPECT_FALSE(params[3].grad().defined());
  // The first bucket is small and holds the last parameters (their gradients come first).
  ASSERT_GE(reducer.buckets().size(), 2u);
  EXPECT_EQ(reducer.buckets().front().flat.numel(), 12 + 250000);
}

TEST(GradientReducer, AveragesAndToleratesMissingGradients) {
  MpiAllReduce all_reduce(MPI_COMM_WORLD);
  const int rank = world_rank(), size = world_size();
  auto a = torch::ones({3}, torch::requires_grad()), b = torch::ones({2}, torch::requires_grad());
  GradientReducer reducer({a, b}, all_reduce, GradientReducer::Averaging::divide, 8, 8);
  for (int step = 0; step < 2; ++step) {  // twice: the views survive a step
    reducer.zero_grad();
    // Every rank: d/da of (rank+1) * sum(a); only rank 0 touches b.
    auto loss = static_cast<double>(rank + 1) * a.sum();
    if (rank == 0) loss = loss + 4.0 * b.sum();
    loss.backward();
    reducer.reduce();
    const double mean = (size + 1) / 2.0;
    EXPECT_TRUE(torch::allclose(a.grad(), torch::full({3}, mean)));
    EXPECT_TRUE(torch::allclose(b.grad(), torch::full({2}, 4.0 / size)));
  }
}

// An MPI all-reduce that counts the sums started.
class CountingAllReduce : public MpiAllReduce {
 public:
  using MpiAllReduce::MpiAllReduce;
  void start(torch::Tensor& flat) override {
    ++started;
    MpiAllReduce::start(flat);
  }
  int started = 0;
};

TEST(GradientReducer, OverlapStartsBucketsDuringTheBackwardInOrder) {
  CountingAllReduce all_reduce(MPI_COMM_WORLD, /*overlap=*/true);
  const int rank = world_rank(), size = world_size();
  auto a = torch::ones({3}, torch::requires_grad()), b = torch::ones({2}, torch::requires_grad());
  // Buckets of 8 bytes: b's first (its gradient comes first), then a's.
  GradientReducer reducer({a, b}, all_reduce, GradientReducer::Averaging::divide, 8, 8);
  ASSERT_EQ(reducer.buckets().size(), 2u);
  for (int step = 0; step < 3; ++step) {
    reducer.zero_grad();
    all_reduce.started = 0;
    // Two micro-steps; only the second is armed. Only rank 0 gives b a gradient, so elsewhere
    // b's bucket never fills and a's, behind it, must wait for reduce().
    (static_cast<double>(rank + 1) * a.sum()).backward();
    EXPECT_EQ(all_reduce.started, 0) << "a micro-step before the last started a sum";
    reducer.arm();
    auto loss = static_cast<double>(rank + 1) * a.sum();
    if (rank == 0) loss = loss + 4.0 * b.sum();
    loss.backward();
    EXPECT_EQ(all_reduce.started, size > 1 && rank == 0 ? 2 : 0) << "rank " << rank;
    reducer.reduce();
    EXPECT_EQ(all_reduce.started, size > 1 ? 2 : 0);
    EXPECT_TRUE(torch::allclose(a.grad(), torch::full({3}, 2.0 * (size + 1) / 2.0)));
    EXPECT_TRUE(torch::allclose(b.grad(), torch::full({2}, 4.0 / size)));
  }
}

TEST(Collectives, ReduceScatterAndAllGatherOverTheGroup) {
  MpiAllReduce group(MPI_COMM_WORLD);
  const int rank = world_rank(), size = world_size();
  // Rank r contributes (r + 1) * [0, 1, ..., 3W - 1]; rank r's part of the sum is its 3 elements.
  const auto full = torch::arange(3 * size, torch::kFloat32) * static_cast<float>(rank + 1);
  auto shard = torch::empty({3});
  group.reduce_scatter(full, shard);
  const double ranks_sum = size * (size + 1) / 2.0;
  EXPECT_TRUE(torch::equal(shard, torch::arange(3 * rank, 3 * rank + 3, torch::kFloat32) * ranks_sum));
  auto gathered = torch::empty({3 * size});
  group.all_gather(torch::full({3}, static_cast<float>(rank)), gathered);
  EXPECT_TRUE(torch::equal(gathered, torch::arange(size, torch::kFloat32).repeat_interleave(3)));
  auto wrong = torch::empty({2});
  EXPECT_THROW(group.reduce_scatter(full, wrong), std::invalid_argument);
  // bf16 gathers as bf16 (bytes, no arithmetic); a sum needs float32, and dtypes must match.
  auto gathered16 = torch::empty({3 * size}, torch::kBFloat16);
  group.all_gather(torch::full({3}, static_cast<float>(rank) + 0.5f, torch::kBFloat16), gathered16);
  EXPECT_TRUE(torch::equal(
      gathered16, (torch::arange(size, torch::kFloat32) + 0.5f).repeat_interleave(3).to(torch::kBFloat16)));
  auto shard16 = torch::empty({3}, torch::kBFloat16);
  EXPECT_THROW(group.reduce_scatter(full.to(torch::kBFloat16), shard16), std::invalid_argument);
  EXPECT_THROW(group.all_gather(shard16, gathered), std::invalid_argument);
}

// Parameters of odd sizes in buckets of 32 bytes (the padding of every bucket is exercised), a
// loss that differs by rank and leaves one parameter without a gradient on odd ranks: the sharded
// AdamW at each level takes the steps of an unsharded AdamW over the averaged gradients.
void expect_sharded_steps_equal_replicated(ShardLevel level) {
  MpiAllReduce group(MPI_COMM_WORLD);
  const int rank = world_rank(), size = world_size();
  const auto make = [] {
    torch::manual_seed(3);
    std::vector<std::pair<std::string, torch::Tensor>> named;
    for (const std::int64_t n : {7, 3, 30, 1, 11})
      named.emplace_back("p" + std::to_string(n), torch::randn({n}).requires_grad_(true));
    return named;
  };
  const auto loss_of = [&](const std::vector<std::pair<std::string, torch::Tensor>>& named, int r,
                           int micro) {
    auto loss = torch::zeros({});
    for (std::size_t i = 0; i < named.size(); ++i) {
      if (i == 3 && r % 2 == 1) continue;  // no gradient for p1 on odd ranks
      loss = loss + (named[i].second * named[i].second).sum() * (0.1 * (r + 1) + micro) / size;
    }
    return loss;
  };
  const AdamWOptions options{0.9, 0.999, 1e-8, 0.01};
  auto sharded_named = make();
  ShardedAdamW sharded(sharded_named, group, rank, level, options, 32, 32);
  ASSERT_GE(sharded.buckets().size(), 3u);
  auto reference = make();  // every rank: the sum over all ranks' losses, replicated
  std::vector<torch::Tensor> reference_params;
  for (auto& [name, p] : reference) reference_params.push_back(p);
  AdamW adamw(reference_params, options);
  for (int step = 0; step < 3; ++step) {
    sharded.zero_grad();
    for (int micro = 0; micro < 2; ++micro) {
      loss_of(sharded_named, rank, micro).backward();
      sharded.after_backward();
      if (level == ShardLevel::gradients) {
        for (const auto& [name, p] : sharded_named) EXPECT_FALSE(p.grad().defined()) << name << " kept";
      }
    }
    sharded.reduce();
    sharded.clip_grad_norm(0.5);
    sharded.step(0.1);

    for (auto& p : reference_params) p.mutable_grad() = torch::Tensor();
    for (int r = 0; r < size; ++r)
      for (int micro = 0; micro < 2; ++micro) loss_of(reference, r, micro).backward();
    torch::nn::utils::clip_grad_norm_(reference_params, 0.5);
    adamw.step(0.1);
    for (std::size_t i = 0; i < reference.size(); ++i)
      EXPECT_TRUE(torch::allclose(sharded_named[i].second, reference[i].second, 1e-5, 1e-6))
          << reference[i].first << " at step " << step << ", rank " << rank << " of " << size;
  }
}

TEST(ShardedAdamW, OptimizerLevelStepsAsReplicatedAdamW) {
  expect_sharded_steps_equal_replicated(ShardLevel::optimizer);
}

TEST(ShardedAdamW, GradientsLevelStepsAsReplicatedAdamWAndFreesGradients) {
  expect_sharded_steps_equal_replicated(ShardLevel::gradients);
}

TEST(ShardedAdamW, OptimizerStateFallsAsOneOverTheGroupSize) {
  MpiAllReduce group(MPI_COMM_WORLD);
  const int size = world_size();
  std::vector<std::pair<std::string, torch::Tensor>> named{
      {"w", torch::zeros({1000}, torch::requires_grad())}};
  ShardedAdamW sharded(named, group, world_rank(), ShardLevel::gradients);
  std::int64_t state = 0;
  for (const auto& b : sharded.buckets()) {
    state += b.master.numel() + b.master.grad().numel();
    EXPECT_FALSE(b.full_gradient.defined());
  }
  for (const auto& m : sharded.optimizer().first_moments()) state += 2 * m.numel();
  EXPECT_EQ(state, 4 * ((1000 + size - 1) / size));
}

// bf16 weights over float32 masters, at both levels: a loss linear in the weights (its gradient,
// exact in bf16, does not depend on them), so the masters must take exactly the steps of a float32
// AdamW, and the weights must be the masters rounded to bf16. Steps of 1e-4 are below bf16's
// resolution at 1.0: the weights stay 1.0 while the masters move, and move once the masters have
// gone a bf16 step, which an AdamW on the bf16 weights themselves never would.
void expect_bf16_weights_follow_float32_masters(ShardLevel level) {
  MpiAllReduce group(MPI_COMM_WORLD);
  const int rank = world_rank(), size = world_size();
  const std::vector<std::int64_t> sizes{7, 3, 30, 1, 11};
  std::vector<std::pair<std::string, torch::Tensor>> named;
  std::vector<torch::Tensor> reference;
  for (const auto n : sizes) {
    named.emplace_back("p" + std::to_string(n), torch::ones({n}, torch::kBFloat16).requires_grad_(true));
    reference.push_back(torch::ones({n}).requires_grad_(true));
  }
  // Rank r's loss: sum(p * c_r) / W, c_r of alternating sign; every coefficient is exact in bf16.
  const auto coefficients = [&](std::int64_t n, int r) {
    return (torch::arange(n, torch::kFloat32).remainder(2) * 2 - 1) * 0.25f * static_cast<float>(r + 1) /
           static_cast<float>(size);
  };
  const AdamWOptions options{0.9, 0.999, 1e-8, 0.0};
  ShardedAdamW sharded(named, group, rank, level, options, 32, 32);
  AdamW adamw(reference, options);
  for (int step = 1; step <= 60; ++step) {
    sharded.zero_grad();
    auto loss = torch::zeros({}, torch::kBFloat16);
    for (std::size_t i = 0; i < named.size(); ++i)
      loss = loss + (named[i].second * coefficients(sizes[i], rank).to(torch::kBFloat16)).sum();
    loss.backward();
    sharded.after_backward();
    sharded.reduce();
    sharded.step(1e-4);
    for (std::size_t i = 0; i < reference.size(); ++i) {
      auto g = torch::zeros({sizes[i]});
      for (int r = 0; r < size; ++r) g += coefficients(sizes[i], r);
      reference[i].mutable_grad() = g;
    }
    adamw.step(1e-4);

    for (std::size_t i = 0; i < named.size(); ++i) {
      const auto& p = named[i].second;
      ASSERT_EQ(p.scalar_type(), torch::kBFloat16);
      EXPECT_TRUE(torch::equal(p, reference[i].detach().to(torch::kBFloat16)))
          << named[i].first << " is not its float32 master rounded, step " << step << ", rank " << rank;
      if (step == 10) {  // 1e-3 from 1.0: below half a bf16 step there (2^-9)
        EXPECT_TRUE(torch::equal(p, torch::ones_like(p))) << named[i].first;
        EXPECT_GT((reference[i] - 1).abs().min().item<double>(), 9e-4);
      }
      if (step == 60) {  // 6e-3 from 1.0, which bf16 rounds to 1 +- 2^-7 (its steps: 2^-7 above, 2^-8 below)
        EXPECT_TRUE(torch::equal((p.to(torch::kFloat32) - 1).abs(), torch::full({sizes[i]}, 1.0 / 128)))
            << named[i].first;
      }
    }
  }
  for (const auto& b : sharded.buckets()) EXPECT_EQ(b.master.scalar_type(), torch::kFloat32);
}

TEST(ShardedAdamW, Bf16WeightsAtOptimizerLevelFollowFloat32Masters) {
  expect_bf16_weights_follow_float32_masters(ShardLevel::optimizer);
}

TEST(ShardedAdamW, Bf16WeightsAtGradientsLevelFollowFloat32Masters) {
  expect_bf16_weights_follow_float32_masters(ShardLevel::gradients);
}

// Shard level parameters on a small Llama: the decoder layers' weights hold nothing between uses,
// exactly one layer is whole while any layer runs (forward and recompute), and the steps are those
// of a replicated AdamW on the whole model; the model is whole again after gather_all().
TEST(ShardedAdamW, ParametersLevelHoldsOnlyTheRunningLayerWhole) {
  MpiAllReduce group(MPI_COMM_WORLD);
  const int rank = world_rank(), size = world_size();
  const auto config = models::llama_config({61, 32, 48, 3, 4, 2, 8});
  torch::manual_seed(5);
  models::LlamaForCausalLM llm(config), reference(config);
  {
    torch::NoGradGuard no_grad;
    const auto from = llm->parameters(), to = reference->parameters();
    for (std::size_t i = 0; i < to.size(); ++i) to[i].copy_(from[i]);
  }
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (const auto& p : llm->named_parameters()) named.emplace_back(p.key(), p.value());
  // No weight decay: the unused input embeddings have no gradient, which AdamW skips and the
  // shards see as zero.
  const AdamWOptions options{0.9, 0.999, 1e-8, 0.0};
  ShardedAdamW sharded(named, group, rank, ShardLevel::parameters, options, 64, 64,
                       decoder_layer_units(llm, named));
  ASSERT_EQ(sharded.units(), 3u);
  const auto whole_layers = [&] {
    int whole = 0;
    for (const auto& layer : *llm->layers()) {
      std::int64_t n = 0;
      for (const auto& p : layer->parameters()) n += p.numel();
      whole += n > 0;
    }
    return whole;
  };
  EXPECT_EQ(whole_layers(), 0);
  const LayerCheckpointing gathering(llm, false, &sharded);
  std::vector<int> seen;  // whole layers while each layer runs
  const auto inner = llm->layer_call();
  llm->set_layer_call([&](torch::nn::Module& layer,
                          const std::function<torch::Tensor(const torch::Tensor&)>& run,
                          const torch::Tensor& x) {
    return inner(
        layer,
        [&, run](const torch::Tensor& in) {
          seen.push_back(whole_layers());
          return run(in);
        },
        x);
  });
  std::vector<torch::Tensor> reference_params = reference->parameters();
  AdamW adamw(reference_params, options);
  for (int step = 0; step < 3; ++step) {
    torch::manual_seed(100 + step);  // the same input on every rank: the mean over ranks is the loss
    const auto input = torch::randn({2, 5, config.hidden_size});
    sharded.zero_grad();
    (llm->forward(input).pow(2).mean() / size).backward();
    sharded.after_backward();
    sharded.reduce();
    sharded.step(1e-2);
    for (auto& p : reference_params) p.mutable_grad() = torch::Tensor();
    reference->forward(input).pow(2).mean().backward();
    adamw.step(1e-2);
  }
  EXPECT_EQ(seen, std::vector<int>(3 * 2 * 3, 1)) << "3 layers, run forward and recomputed, 3 steps";
  EXPECT_EQ(whole_layers(), 0);
  sharded.gather_all();
  EXPECT_EQ(whole_layers(), 3);
  const auto params = llm->named_parameters();
  for (std::size_t i = 0; i < reference_params.size(); ++i)
    EXPECT_TRUE(torch::allclose(params[i].value(), reference_params[i], 1e-5, 1e-6))
        << params[i].key() << ", rank " << rank << " of " << size;
}

// Prefetching the next layer's weights changes when they travel, not what arrives: with it on
// and off the steps end bit for bit the same. A step of two micro-steps over 3 layers gathers 12
// times, of which 6 find their layer still held in its buffer (the last layer from the forward
// pass to its recompute, the first from a backward to the next forward, and the layers the
// second micro-step finds there) and 6 all-gather: with prefetch, all but the first of those
// were started by the gather before; without it, each waits.
TEST(ShardedAdamW, PrefetchingTheNextLayerChangesNothingButWhenItIsGathered) {
  MpiAllReduce group(MPI_COMM_WORLD);
  const int rank = world_rank(), size = world_size();
  const auto config = models::llama_config({61, 32, 48, 3, 4, 2, 8});
  const auto train = [&](bool prefetch) {
    torch::manual_seed(5);
    models::LlamaForCausalLM llm(config);
    std::vector<std::pair<std::string, torch::Tensor>> named;
    for (const auto& p : llm->named_parameters()) named.emplace_back(p.key(), p.value());
    ShardedAdamW sharded(named, group, rank, ShardLevel::parameters, AdamWOptions{0.9, 0.999, 1e-8, 0.0}, 64,
                         64, decoder_layer_units(llm, named));
    sharded.set_prefetch(prefetch);
    {
      const LayerCheckpointing gathering(llm, false, &sharded);
      for (int step = 0; step < 3; ++step) {
        sharded.zero_grad();
        for (int micro = 0; micro < 2; ++micro) {
          torch::manual_seed(100 + 10 * step + micro + rank);
          (llm->forward(torch::randn({2, 5, config.hidden_size})).pow(2).mean() / size).backward();
          sharded.after_backward();
        }
        sharded.reduce();
        sharded.step(1e-2);
      }
    }
    const auto counts = sharded.gather_counts();
    sharded.gather_all();
    std::vector<torch::Tensor> out;
    for (const auto& p : llm->parameters()) out.push_back(p.detach().clone());
    return std::make_pair(out, counts);
  };
  const auto [with, on] = train(true);
  const auto [without, off] = train(false);
  EXPECT_EQ(on.waited, 3);
  EXPECT_EQ(on.prefetched, 3 * 5);
  EXPECT_EQ(on.kept, 3 * 6);
  EXPECT_EQ(off.waited, 3 * 6);
  EXPECT_EQ(off.prefetched, 0);
  EXPECT_EQ(off.kept, 3 * 6);
  ASSERT_EQ(with.size(), without.size());
  for (std::size_t i = 0; i < with.size(); ++i) EXPECT_TRUE(torch::equal(with[i], without[i])) << i;
}

// The tiny world, written once by rank 0 into a folder every rank knows.
class TinyWorldTraining : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string folder =
        (fs::temp_directory_path() / ("acsweep_stage2_" + std::to_string(::getpid()))).string();
    int length = static_cast<int>(folder.size());
    MPI_Bcast(&length, 1, MPI_INT, 0, MPI_COMM_WORLD);
    folder.resize(static_cast<std::size_t>(length));
    MPI_Bcast(folder.data(), length, MPI_CHAR, 0, MPI_COMM_WORLD);
    int ok = 1;
    if (world_rank() == 0)
      ok =
          std::system(
              (ACSWEEP_PYTHON " " ACSWEEP_TESTS_DIR "/fixtures/tiny_world.py " + folder + " 4").c_str()) == 0;
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    ASSERT_TRUE(ok);
    root_ = new std::string(folder);
  }
  static void TearDownTestSuite() {
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) fs::remove_all(*root_);
    delete root_;
  }

  struct Model {
    models::LlamaForCausalLM llm{nullptr};
    models::Projector projector{nullptr};
    std::unique_ptr<models::VisionRepresentation> representation;
  };
  Model model() const {
    Model m;
    m.llm = models::load_llama(*root_ + "/llm");
    std::vector<std::unique_ptr<models::VisionEncoder>> members;
    members.push_back(models::load_vision_encoder(*root_ + "/encoders/clip"));
    m.representation = std::make_unique<models::VisionRepresentation>(std::move(members));
    torch::manual_seed(21);
    m.projector = models::Projector(m.representation->channels(), m.llm->config().hidden_size);
    return m;
  }
  std::vector<models::ImagePrompt> conversations() const {
    const models::Tokenizer tokenizer(*root_ + "/llm/tokenizer.model");
    std::size_t left_out = 0;
    return models::chat_conversations(tokenizer,
                                      data::read_llava_json(*root_ + "/captions.json", *root_ + "/images"),
                                      data::ChatTemplate::vicuna_v1, left_out);
  }
  Stage2Options options(std::int64_t micro_batch) const {
    Stage2Options o;
    o.learning_rate = 2e-3;
    o.global_batch = 8;
    o.micro_batch = micro_batch;
    o.epochs = 4;  // 48 conversations: 6 steps an epoch, 24 steps; the test stops after 20
    o.warmup_ratio = 0.1;
    o.max_grad_norm = 1.0;
    o.data_seed = 3;
    o.stop_after = 20;
    return o;
  }
  void expect_w_ranks_follow_one_rank(bool activation_checkpointing, ShardLevel shard) const;
  void expect_sharded_checkpoint_resumes_at_another_group_size(ShardLevel level) const;
  static std::string* root_;
};
std::string* TinyWorldTraining::root_ = nullptr;

// W ranks (the replicated reductions overlapping the backward) against one rank without any option.
void TinyWorldTraining::expect_w_ranks_follow_one_rank(bool activation_checkpointing,
                                                       ShardLevel shard) const {
  const int size = world_size();
  if (8 % size != 0) GTEST_SKIP() << "a global batch of 8 needs 1, 2, 4 or 8 ranks";
  const auto data = conversations();

  std::vector<double> single_loss;
  std::vector<torch::Tensor> single_weights;
  if (world_rank() == 0) {  // the trusted curve: one rank, the whole global batch by accumulation
    auto m = model();
    MpiAllReduce self(MPI_COMM_SELF);
    single_loss = train_stage2(m.llm, m.projector, *m.representation, data, options(2), self, 0).step_loss;
    for (auto& [name, p] : stage2_parameters(m.llm, m.projector))
      single_weights.push_back(p.detach().clone());
  }
  auto m = model();
  MpiAllReduce world(MPI_COMM_WORLD, /*overlap=*/true);  // the reductions overlap the backward
  auto o = options(std::max(1, 4 / size));
  o.activation_checkpointing = activation_checkpointing;
  o.shard = shard;
  const auto result = train_stage2(m.llm, m.projector, *m.representation, data, o, world, world_rank());
  ASSERT_EQ(result.step_loss.size(), 20u);
  EXPECT_LT(result.step_loss.back(), result.step_loss.front()) << "Stage 2 did not learn";
  if (world_rank() != 0) return;
  for (std::size_t s = 0; s < 20; ++s)
    EXPECT_NEAR(result.step_loss[s], single_loss[s], 1e-5 * std::abs(single_loss[s])) << "step " << s;
  const auto params = stage2_parameters(m.llm, m.projector);
  for (std::size_t i = 0; i < params.size(); ++i) {
    const double scale = single_weights[i].abs().max().item<double>() + 1e-12;
    EXPECT_LE((params[i].second - single_weights[i]).abs().max().item<double>(), 1e-4 * scale)
        << params[i].first;
  }
}

TEST_F(TinyWorldTraining, WRanksFollowOneRank) { expect_w_ranks_follow_one_rank(false, ShardLevel::none); }

TEST_F(TinyWorldTraining, WRanksWithActivationCheckpointingFollowOneRankWithout) {
  expect_w_ranks_follow_one_rank(true, ShardLevel::none);
}

TEST_F(TinyWorldTraining, WRanksShardingTheOptimizerFollowOneRank) {
  expect_w_ranks_follow_one_rank(false, ShardLevel::optimizer);
}

TEST_F(TinyWorldTraining, WRanksShardingTheGradientsFollowOneRank) {
  expect_w_ranks_follow_one_rank(true, ShardLevel::gradients);
}

TEST_F(TinyWorldTraining, WRanksShardingTheParametersFollowOneRank) {
  expect_w_ranks_follow_one_rank(false, ShardLevel::parameters);
}

// bf16 weights over float32 master shards (param_dtype = bf16): W ranks follow one rank in bf16
// up to the rounding of bf16 sums, the curve stays near the float32 one, and the weights train as
// bf16 in place.
TEST_F(TinyWorldTraining, WRanksWithBf16WeightsFollowOneRankInBf16) {
  const int size = world_size();
  if (8 % size != 0) GTEST_SKIP() << "a global batch of 8 needs 1, 2, 4 or 8 ranks";
  const auto data = conversations();
  std::vector<double> bf16_loss, fp32_loss;
  if (world_rank() == 0) {
    MpiAllReduce self(MPI_COMM_SELF);
    auto m = model();
    fp32_loss = train_stage2(m.llm, m.projector, *m.representation, data, options(2), self, 0).step_loss;
    auto b = model();
    auto o = options(2);
    o.shard = ShardLevel::gradients;
    o.param_dtype = torch::kBFloat16;
    bf16_loss = train_stage2(b.llm, b.projector, *b.representation, data, o, self, 0).step_loss;
  }
  auto m = model();
  MpiAllReduce world(MPI_COMM_WORLD);
  auto o = options(std::max(1, 4 / size));
  o.shard = ShardLevel::gradients;
  o.param_dtype = torch::kBFloat16;
  o.activation_checkpointing = true;
  const auto result = train_stage2(m.llm, m.projector, *m.representation, data, o, world, world_rank());
  ASSERT_EQ(result.step_loss.size(), 20u);
  EXPECT_LT(result.step_loss.back(), 0.8 * result.step_loss.front()) << "Stage 2 in bf16 did not learn";
  for (const auto& [name, p] : stage2_parameters(m.llm, m.projector))
    EXPECT_EQ(p.scalar_type(), torch::kBFloat16) << name;
  if (world_rank() != 0) return;
  double to_bf16 = 0, to_fp32 = 0;
  for (std::size_t s = 0; s < 20; ++s) {
    to_bf16 = std::max(to_bf16, std::abs(result.step_loss[s] - bf16_loss[s]) / bf16_loss[s]);
    to_fp32 = std::max(to_fp32, std::abs(result.step_loss[s] - fp32_loss[s]) / fp32_loss[s]);
  }
  std::printf(
      "bf16 weights at %d ranks: largest relative loss difference %.2e to one rank in bf16, %.2e to "
      "one rank in float32\n",
      size, to_bf16, to_fp32);
  EXPECT_LT(to_bf16, 5e-3);  // measured 4-5e-4 at 1, 2 and 4 ranks
  EXPECT_LT(to_fp32, 1e-2);  // measured 1.7-1.8e-3
}

// A sharded checkpoint written by W ranks, resumed by a group of half as many (one at W = 1):
// the resumed run follows the uninterrupted one; a checkpoint folder without DONE and an
// abandoned temporary are never read and are removed at the next checkpoint; only the newest two
// complete checkpoints are kept.
void TinyWorldTraining::expect_sharded_checkpoint_resumes_at_another_group_size(ShardLevel level) const {
  const int size = world_size(), rank = world_rank();
  if (8 % size != 0) GTEST_SKIP() << "a global batch of 8 needs 1, 2, 4 or 8 ranks";
  const auto data = conversations();
  const std::string dir = *root_ + "/sharded_checkpoints";
  if (rank == 0) {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  MpiAllReduce world(MPI_COMM_WORLD);
  auto o = options(1);
  o.shard = level;
  o.stop_after = 10;
  auto whole = model();
  const auto uninterrupted =
      train_stage2(whole.llm, whole.projector, *whole.representation, data, o, world, rank);

  auto first = model();
  auto stopped = o;
  stopped.checkpoint_every = 2;
  stopped.checkpoint_dir = dir;
  stopped.keep_checkpoints = 2;
  stopped.stop_after = 7;  // checkpoints at 2, 4 and 6; "killed" a step later
  train_stage2(first.llm, first.projector, *first.representation, data, stopped, world, rank);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    EXPECT_FALSE(fs::exists(dir + "/checkpoint-2")) << "keep_checkpoints = 2 kept an older one";
    EXPECT_TRUE(fs::exists(dir + "/checkpoint-4/DONE"));
    fs::create_directories(dir + "/checkpoint-9");  // killed before its DONE
    fs::create_directories(dir + "/checkpoint-8.tmp-sharded");
    std::ofstream(dir + "/checkpoint-8.tmp-sharded/shard-0-of-1.safetensors") << "torn";
  }
  MPI_Barrier(MPI_COMM_WORLD);
  ASSERT_EQ(latest_checkpoint(dir), std::optional<std::int64_t>(6));

  // Half the group resumes; the other ranks wait.
  const int half = std::max(1, size / 2);
  MPI_Comm resumers;
  runtime::check_mpi(MPI_Comm_split(MPI_COMM_WORLD, rank < half ? 0 : MPI_UNDEFINED, rank, &resumers),
                     "MPI_Comm_split");
  if (rank < half) {
    MpiAllReduce group(resumers);
    auto second = model();
    auto resume = stopped;
    resume.stop_after = 10;
    resume.micro_batch = 8 / half;
    const auto resumed =
        train_stage2(second.llm, second.projector, *second.representation, data, resume, group, rank);
    EXPECT_EQ(resumed.resumed_from, 6);
    if (rank == 0) {  // the torn folders are gone with the older checkpoints
      std::vector<std::string> left;
      for (const auto& entry : fs::directory_iterator(dir)) left.push_back(entry.path().filename().string());
      std::sort(left.begin(), left.end());
      EXPECT_EQ(left, (std::vector<std::string>{"checkpoint-10", "checkpoint-8"}));
    }
    ASSERT_EQ(resumed.step_loss.size(), 10u);
    for (std::size_t s = 0; s < 10; ++s)
      EXPECT_NEAR(resumed.step_loss[s], uninterrupted.step_loss[s],
                  1e-5 * std::abs(uninterrupted.step_loss[s]))
          << "step " << s;
    const auto a = stage2_parameters(whole.llm, whole.projector),
               b = stage2_parameters(second.llm, second.projector);
    for (std::size_t i = 0; i < a.size(); ++i) {
      const double scale = a[i].second.abs().max().item<double>() + 1e-12;
      EXPECT_LE((a[i].second - b[i].second).abs().max().item<double>(), 1e-4 * scale) << a[i].first;
    }
    MPI_Comm_free(&resumers);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST_F(TinyWorldTraining, ShardedCheckpointResumesAtAnotherGroupSize) {
  expect_sharded_checkpoint_resumes_at_another_group_size(ShardLevel::gradients);
}

TEST_F(TinyWorldTraining, ParametersLevelCheckpointResumesAtAnotherGroupSize) {
  expect_sharded_checkpoint_resumes_at_another_group_size(ShardLevel::parameters);
}

// A checkpoint of any shard level resumes at any other, the unsharded one included: the layouts
// differ (whole tensors; buckets by size; a unit per decoder layer), the parameters do not. Each
// resumed run follows the uninterrupted one.
TEST_F(TinyWorldTraining, ACheckpointOfAnyShardLevelResumesAtAnyOther) {
  if (world_rank() != 0) return;
  const auto data = conversations();
  MpiAllReduce self(MPI_COMM_SELF);
  const std::string dir = *root_ + "/mixed_checkpoints";
  auto o = options(4);
  o.stop_after = 4;
  auto whole = model();
  const auto uninterrupted =
      train_stage2(whole.llm, whole.projector, *whole.representation, data, o, self, 0);
  const std::pair<ShardLevel, ShardLevel> resumes[] = {{ShardLevel::none, ShardLevel::optimizer},
                                                       {ShardLevel::optimizer, ShardLevel::parameters},
                                                       {ShardLevel::parameters, ShardLevel::gradients},
                                                       {ShardLevel::parameters, ShardLevel::none},
                                                       {ShardLevel::gradients, ShardLevel::none}};
  for (const auto& [written, read] : resumes) {
    const auto label = to_string(written) + " resumed at " + to_string(read);
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto first = model();
    auto stopped = o;
    stopped.shard = written;
    stopped.checkpoint_every = 2;
    stopped.checkpoint_dir = dir;
    stopped.stop_after = 2;
    train_stage2(first.llm, first.projector, *first.representation, data, stopped, self, 0);
    auto second = model();
    auto resume = stopped;
    resume.shard = read;
    resume.stop_after = 4;
    const auto resumed =
        train_stage2(second.llm, second.projector, *second.representation, data, resume, self, 0);
    EXPECT_EQ(resumed.resumed_from, 2) << label;
    ASSERT_EQ(resumed.step_loss.size(), 4u) << label;
    for (std::size_t s = 0; s < 4; ++s)
      EXPECT_NEAR(resumed.step_loss[s], uninterrupted.step_loss[s],
                  1e-5 * std::abs(uninterrupted.step_loss[s]))
          << label << ", step " << s;
    const auto a = stage2_parameters(whole.llm, whole.projector),
               b = stage2_parameters(second.llm, second.projector);
    for (std::size_t i = 0; i < a.size(); ++i) {
      const double scale = a[i].second.abs().max().item<double>() + 1e-12;
      EXPECT_LE((a[i].second - b[i].second).abs().max().item<double>(), 1e-4 * scale)
          << label << ": " << a[i].first;
    }
  }
}

// A checkpoint whose parameters are not the run's is refused, naming the file and the parameter:
// an unsharded one without the projector's first bias, a sharded one listing a weight one
// element longer.
TEST_F(TinyWorldTraining, ACheckpointOfAnotherModelIsRefusedByName) {
  if (world_rank() != 0) return;
  const auto data = conversations();
  MpiAllReduce self(MPI_COMM_SELF);
  const std::string dir = *root_ + "/foreign_checkpoints";
  const std::string bias = "model.mm_projector.0.bias";
  for (const auto level : {ShardLevel::none, ShardLevel::gradients}) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    auto o = options(4);
    o.shard = level;
    o.checkpoint_every = 2;
    o.checkpoint_dir = dir;
    o.stop_after = 2;
    auto first = model();
    train_stage2(first.llm, first.projector, *first.representation, data, o, self, 0);
    const std::string folder = dir + "/checkpoint-2";
    std::string expected;
    if (level == ShardLevel::none) {
      std::map<std::string, models::TensorData> kept;
      {
        const models::SafetensorsFile weights(folder + "/weights.safetensors");
        for (const auto& name : weights.names())
          if (name != bias) kept[name] = {weights.tensor(name).shape, weights.tensor(name).to_float()};
      }
      ASSERT_EQ(kept.size() + 1, stage2_parameters(first.llm, first.projector).size());
      models::write_safetensors(folder + "/weights.safetensors", kept);
      expected = "no '" + bias + "'";
    } else {
      const std::string path = folder + "/manifest.json";
      std::ifstream in(path);
      auto manifest = nlohmann::json::parse(in);
      bool edited = false;
      for (auto& bucket : manifest["buckets"])
        for (auto& member : bucket["members"])
          if (member[0] == bias) {
            member[1] = member[1].get<std::int64_t>() + 1;
            bucket["numel"] = bucket["numel"].get<std::int64_t>() + 1;
            edited = true;
          }
      ASSERT_TRUE(edited);
      std::ofstream(path) << manifest.dump();
      expected = "'" + bias + "' holds";
    }
    auto second = model();
    o.stop_after = 4;
    try {
      train_stage2(second.llm, second.projector, *second.representation, data, o, self, 0);
      FAIL() << "a checkpoint of another model was read at " << to_string(level);
    } catch (const InputError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(folder), std::string::npos) << what;
      EXPECT_NE(what.find("do not fit the model being trained"), std::string::npos) << what;
      EXPECT_NE(what.find(expected), std::string::npos) << what;
    }
  }
}

TEST_F(TinyWorldTraining, ResumeFromCheckpointIsBitIdentical) {
  if (world_rank() != 0) return;  // one rank, as the issue asks; the others wait in the next test
  const auto data = conversations();
  MpiAllReduce self(MPI_COMM_SELF);
  const std::string dir = *root_ + "/checkpoints";
  fs::remove_all(dir);
  fs::create_directories(dir);

  auto whole = model();
  auto o = options(4);
  o.stop_after = 12;
  const auto uninterrupted =
      train_stage2(whole.llm, whole.projector, *whole.representation, data, o, self, 0);

  auto first = model();
  auto stopped = o;
  stopped.checkpoint_every = 5;
  stopped.checkpoint_dir = dir;
  stopped.stop_after = 8;  // "killed" after the checkpoint of step 5, three steps later
  train_stage2(first.llm, first.projector, *first.representation, data, stopped, self, 0);
  ASSERT_EQ(latest_checkpoint(dir), std::optional<std::int64_t>(5));

  auto second = model();  // a fresh process would start from the untrained weights
  stopped.stop_after = 12;
  const auto resumed =
      train_stage2(second.llm, second.projector, *second.representation, data, stopped, self, 0);
  EXPECT_EQ(resumed.resumed_from, 5);
  EXPECT_EQ(resumed.step_loss, uninterrupted.step_loss);  // bit for bit
  const auto a = stage2_parameters(whole.llm, whole.projector),
             b = stage2_parameters(second.llm, second.projector);
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
}

TEST_F(TinyWorldTraining, Stage1WRanksFollowOneRank) {
  const int size = world_size();
  const models::Tokenizer tokenizer(*root_ + "/llm/tokenizer.model");
  const auto captions =
      models::plain_captions(tokenizer, data::read_llava_json(*root_ + "/captions.json", *root_ + "/images"));
  Stage1Options o;
  o.learning_rate = 5e-3;
  o.global_batch = 10;  // 48 captions: 5 steps an epoch, the last one short (8 captions)
  o.micro_batch = 2;
  o.epochs = 2;
  o.max_grad_norm = 1.0;
  o.data_seed = 4;
  o.init_seed = 9;
  Stage1Result single;
  if (world_rank() == 0) {  // the trusted curve: one rank, the whole batch by accumulation
    auto m = model();
    freeze(*m.llm);
    single = train_projector(m.llm, *m.representation, captions, o);
  }
  auto m = model();
  freeze(*m.llm);
  MpiAllReduce world(MPI_COMM_WORLD);
  const Stage1Result result = train_projector(m.llm, *m.representation, captions, o, world, world_rank());
  ASSERT_EQ(result.step_loss.size(), 10u);
  EXPECT_LT(result.step_loss.back(), result.step_loss.front()) << "Stage 1 did not learn";
  // Every rank ends with the same projector: rank 0's, broadcast, equals each rank's own.
  for (auto& p : result.projector->parameters()) {
    auto theirs = p.detach().clone();
    MPI_Bcast(theirs.data_ptr<float>(), static_cast<int>(theirs.numel()), MPI_FLOAT, 0, MPI_COMM_WORLD);
    EXPECT_TRUE(torch::equal(theirs, p.detach())) << "rank " << world_rank() << " of " << size;
  }
  if (world_rank() != 0) return;
  for (std::size_t s = 0; s < single.step_loss.size(); ++s)
    EXPECT_NEAR(result.step_loss[s], single.step_loss[s], 1e-5 * std::abs(single.step_loss[s]))
        << "step " << s;
  const auto mine = result.projector->parameters(), trusted = single.projector->parameters();
  for (std::size_t i = 0; i < mine.size(); ++i) {
    const double scale = trusted[i].abs().max().item<double>() + 1e-12;
    EXPECT_LE((mine[i] - trusted[i]).abs().max().item<double>(), 1e-4 * scale) << i;
  }
}

// A learning rate far too large makes the loss NaN at the second step (the first step's update
// overflows the projector's output). Every rank stops there with TrainingDiverged naming the stage
// and the step, before the optimizer takes the NaN gradients; none is left in a collective (the
// barrier after it returns).
TEST_F(TinyWorldTraining, ADivergingTrainingStopsEveryRankAtTheSameStep) {
  if (8 % world_size() != 0) GTEST_SKIP() << "a global batch of 8 needs 1, 2, 4 or 8 ranks";
  const auto expect_diverged_at_step_2 = [](const std::function<void()>& train, const std::string& stage) {
    try {
      train();
      ADD_FAILURE() << stage << " did not stop";
    } catch (const TrainingDiverged& e) {
      EXPECT_NE(std::string(e.what()).find(stage + ": the loss of step 2 of "), std::string::npos)
          << e.what();
    }
    EXPECT_EQ(MPI_Barrier(MPI_COMM_WORLD), MPI_SUCCESS);
  };
  const auto data = conversations();
  for (const auto shard : {ShardLevel::none, ShardLevel::gradients, ShardLevel::parameters}) {
    auto m = model();
    MpiAllReduce world(MPI_COMM_WORLD);
    auto o = options(1);
    o.learning_rate = 1e30;
    o.warmup_ratio = 0;
    o.max_grad_norm = 0;
    o.shard = shard;
    expect_diverged_at_step_2(
        [&] { train_stage2(m.llm, m.projector, *m.representation, data, o, world, world_rank()); },
        "Stage 2");
  }
  const models::Tokenizer tokenizer(*root_ + "/llm/tokenizer.model");
  const auto captions =
      models::plain_captions(tokenizer, data::read_llava_json(*root_ + "/captions.json", *root_ + "/images"));
  auto m = model();
  freeze(*m.llm);
  MpiAllReduce world(MPI_COMM_WORLD);
  Stage1Options o;
  o.learning_rate = 1e30;
  o.warmup_ratio = 0;
  o.global_batch = 8;
  o.micro_batch = 2;
  o.data_seed = 4;
  expect_diverged_at_step_2(
      [&] { train_projector(m.llm, *m.representation, captions, o, world, world_rank()); }, "Stage 1");
}

}  // namespace
}  // namespace acsweep::train
