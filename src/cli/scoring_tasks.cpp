// The scoring sweep's tasks on the ranks (shared/spec/ARCHITECTURE.md, "Pipeline", steps 2 and
// 4): a score task trains (or reads back) the setting's Stage-1 projector and measures A and C; a
// finetune task runs Stage 2 data-parallel over its worker group and every benchmark. What each
// returns is listed in scoring_job.hpp.
#include "acsweep/cli/scoring_tasks.hpp"

#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>

#include "acsweep/data/llava.hpp"
#include "acsweep/data/spair.hpp"
#include "acsweep/eval/benchmarks.hpp"
#include "acsweep/eval/evaluate.hpp"
#include "acsweep/law/seeded_rng.hpp"
#include "acsweep/models/multimodal.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/scores/alignment.hpp"
#include "acsweep/scores/correspondence.hpp"
#include "acsweep/train/stage1.hpp"
#include "acsweep/train/stage2.hpp"

namespace acsweep::cli {
namespace {
namespace fs = std::filesystem;

// Streams of the job's seed (law::derive_seed paths; 0xA5C0'0001 draws the manifest).
constexpr std::uint64_t kStage1Order = 0xA5C0'0002, kStage1Init = 0xA5C0'0003, kStage2Order = 0xA5C0'0004;

std::uint64_t name_number(const std::string& name) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : name) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

std::string stage1_folder(const runtime::JobSpec& job, const std::string& stage1_hash) {
  return (fs::path(job.output) / "stage1" / stage1_hash).string();
}

models::VisionRepresentation load_representation(const runtime::SettingSpec& setting,
                                                 const runtime::SearchSection& search, torch::Device device) {
  std::vector<std::unique_ptr<models::VisionEncoder>> members;
  for (const auto& folder : setting.folders)
    members.push_back(
        models::load_vision_encoder(folder, {search.layer, setting.resolution, search.pad_to_square}));
  models::VisionRepresentation representation(std::move(members));
  representation.to(device);
  return representation;
}

// What every task on a rank shares, loaded by its first task.
struct ScorerState {
  models::LlamaForCausalLM llm{nullptr};
  std::unique_ptr<models::Tokenizer> tokenizer;
  std::vector<models::ImagePrompt> train, heldout;
  std::vector<data::KeypointPair> pairs;
  torch::Device device = torch::kCPU;
};

std::shared_ptr<ScorerState> load_state(const ScoringJob& plan, const runtime::ScoringSection& s,
                                        int local_rank) {
  auto state = std::make_shared<ScorerState>();
  if (torch::cuda::is_available())
    state->device = torch::Device(
        torch::kCUDA,
        static_cast<c10::DeviceIndex>(local_rank % static_cast<int>(torch::cuda::device_count())));
  state->llm = models::load_llama(s.llm.folder);
  train::freeze(*state->llm);
  state->llm->to(state->device);
  state->tokenizer = std::make_unique<models::Tokenizer>(s.llm.tokenizer);
  const auto captions =
      models::plain_captions(*state->tokenizer, data::read_llava_json(s.stage1.data, s.stage1.images));
  for (const auto i : plan.train) state->train.push_back(captions.at(i));
  for (const auto i : plan.heldout) state->heldout.push_back(captions.at(i));
  state->pairs =
      data::read_spair(s.c_score.root, s.c_score.split, static_cast<std::size_t>(s.c_score.max_pairs)).pairs;
  return state;
}

// The setting's Stage-1 projector under <output>/stage1/<hash>/: model.safetensors (LLaVA's
// model.mm_projector.* names) and stage1_loss.safetensors (the loss per step; the caption counts
// in its metadata). Trained by the first task that needs it (its own, or another setting's
// A_similarity) and read back by the rest: training is deterministic from the seed, so either
// way it is the same projector. The projector file is written last, each file atomically.
struct Stage1Outcome {
  models::Projector projector{nullptr};
  std::vector<double> loss;
  std::size_t examples = 0, too_long = 0;
};

// bf16 autocast for training on this device ([llm] autocast: auto means on CUDA).
bool bf16_on(const runtime::LlmSection& llm, const torch::Device& device) {
  return llm.autocast == "bf16" || (llm.autocast == "auto" && device.is_cuda());
}

// The sum over a worker group's ranks: NCCL for a GPU, MPI otherwise (overlapping the backward
// when asked).
std::unique_ptr<train::AllReduce> group_all_reduce(const torch::Device& device, MPI_Comm group,
                                                   bool overlap = false) {
  if (device.is_cuda()) return train::make_nccl_all_reduce(group, device.index());
  return std::make_unique<train::MpiAllReduce>(group, overlap);
}

// With [stage1] data_parallel, the ranks of `group` train it together (its rank 0 decides whether
// it must be trained, and writes it); otherwise each rank on its own.
Stage1Outcome stage1(ScorerState& state, models::VisionRepresentation& representation,
                     const runtime::SettingSpec& setting, const std::string& stage1_hash,
                     const runtime::JobSpec& job, int rank, MPI_Comm group) {
  const auto& s = job.scoring->stage1;
  const std::string folder = stage1_folder(job, stage1_hash);
  const std::string file = folder + "/model.safetensors", loss_file = folder + "/stage1_loss.safetensors";
  int group_rank = 0, saved = fs::exists(file) && fs::exists(loss_file) ? 1 : 0;
  if (s.data_parallel) {  // one decision for the group, or its ranks would not meet in the all-reduce
    runtime::check_mpi(MPI_Comm_rank(group, &group_rank), "MPI_Comm_rank(worker group)");
    runtime::broadcast(saved, 0, group);
  }
  Stage1Outcome out;
  if (saved) {
    out.projector = models::Projector(representation.channels(), state.llm->config().hidden_size);
    models::load_parameters(*out.projector, models::SafetensorsFolder(folder), "model.mm_projector.");
    out.projector->to(state.device);
    out.projector->eval();
    const models::SafetensorsFile losses(loss_file);
    for (const float v : losses.tensor("step_loss").to_float()) out.loss.push_back(v);
    out.examples = std::stoul(losses.metadata().at("captions"));
    out.too_long = std::stoul(losses.metadata().at("too_long"));
    std::fprintf(stderr, "acsweep [rank %d] %s: Stage-1 projector read from %s\n", rank, setting.name.c_str(),
                 folder.c_str());
    return out;
  }
  train::Stage1Options o;
  o.learning_rate = s.learning_rate;
  o.global_batch = s.global_batch;
  o.micro_batch = s.micro_batch;
  o.epochs = s.epochs;
  o.warmup_ratio = s.warmup_ratio;
  o.weight_decay = s.weight_decay;
  o.max_grad_norm = s.max_grad_norm;
  o.data_seed = law::derive_seed(job.seed, {kStage1Order});
  o.init_seed = law::derive_seed(job.seed, {kStage1Init, name_number(setting.name)});
  o.bf16 = bf16_on(job.scoring->llm, state.device);
  o.max_length = s.max_length;
  auto last = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  std::unique_ptr<train::AllReduce> all_reduce;
  if (s.data_parallel)
    all_reduce = group_all_reduce(state.device, group);
  else
    all_reduce = std::make_unique<train::SingleRankAllReduce>();
  auto result = train::train_projector(
      state.llm, representation, state.train, o, *all_reduce, group_rank,
      [&](const train::Stage1Progress& p) {
        const auto now = std::chrono::steady_clock::now();
        if (group_rank != 0 || (now - last < std::chrono::seconds(2) && p.step != p.steps)) return;
        last = now;
        const double eta = p.examples_per_second > 0
                               ? static_cast<double>(p.steps - p.step) * static_cast<double>(s.global_batch) /
                                     p.examples_per_second
                               : 0.0;
        std::fprintf(stderr,
                     "acsweep [rank %d] %s: stage 1 step %lld/%lld, loss %.4f, %.1f captions/s, ETA %.0f s\n",
                     rank, setting.name.c_str(), static_cast<long long>(p.step),
                     static_cast<long long>(p.steps), p.loss, p.examples_per_second, eta);
      });
  out.projector = result.projector;
  for (const double v : result.step_loss) out.loss.push_back(static_cast<float>(v));  // as a reader gets them
  out.examples = result.examples;
  out.too_long = result.skipped_too_long;
  if (group_rank != 0) return out;  // data-parallel: the group's rank 0 writes it

  fs::create_directories(folder);
  const std::string mine = ".rank" + std::to_string(rank);  // two ranks may train one reference at once
  models::TensorData losses{
      {static_cast<std::int64_t>(out.loss.size())}, {out.loss.begin(), out.loss.end()}, models::DType::F32};
  models::write_safetensors(
      loss_file + mine, {{"step_loss", losses}},
      {{"captions", std::to_string(out.examples)}, {"too_long", std::to_string(out.too_long)}});
  fs::rename(loss_file + mine, loss_file);
  std::string encoders;
  for (const auto& encoder : setting.encoders) encoders += (encoders.empty() ? "" : "+") + encoder;
  models::save_parameters(*out.projector, file + mine, "model.mm_projector.",
                          {{"setting", setting.name}, {"encoders", encoders}});
  fs::rename(file + mine, file);
  return out;
}

// On one rank, or with [stage1] data_parallel on every rank of `group`: they train the Stage-1
// projectors together (the setting's, and any reference's not saved yet), then the group's rank
// 0 measures A and C alone and its result is the task's.
runtime::TaskResult score_setting(ScorerState& state, const ScoringJob& plan, const runtime::JobSpec& job,
                                  const runtime::TaskDescriptor& task, int rank, MPI_Comm group) {
  const auto& s = *job.scoring;
  const std::size_t index = std::stoul(task.inputs.at("setting"));
  const auto& setting = s.search.settings.at(index);
  auto representation = load_representation(setting, s.search, state.device);
  auto trained = stage1(state, representation, setting, task.inputs.at("stage1_hash"), job, rank, group);
  // The references' projectors, for A_similarity (each trained here unless another task saved it).
  std::vector<std::unique_ptr<models::VisionRepresentation>> reference_representations;
  std::vector<Stage1Outcome> references;
  for (const auto& reference : s.a_score.references) {
    std::size_t r = 0;
    while (s.search.settings[r].name != reference) ++r;
    if (r == index) continue;
    reference_representations.push_back(std::make_unique<models::VisionRepresentation>(
        load_representation(s.search.settings[r], s.search, state.device)));
    references.push_back(stage1(state, *reference_representations.back(), s.search.settings[r],
                                plan.tasks[r].inputs.at("stage1_hash"), job, rank, group));
  }
  int group_rank = 0;
  runtime::check_mpi(MPI_Comm_rank(group, &group_rank), "MPI_Comm_rank(worker group)");
  if (group_rank != 0) return {};

  runtime::TaskResult result;
  const auto a = scores::score_alignment(state.llm, representation, trained.projector, state.heldout,
                                         static_cast<std::size_t>(s.a_score.batch));
  const auto c =
      scores::score_correspondence(representation, state.pairs, {s.c_score.alpha, s.c_score.upsample});

  double similarity = std::numeric_limits<double>::quiet_NaN();
  if (!s.a_score.references.empty()) {
    std::vector<torch::Tensor> mine;  // this setting's projected tokens of each held-out image, once
    {
      torch::NoGradGuard frozen;
      for (const auto& caption : state.heldout)
        mine.push_back(trained.projector->forward(models::visual_tokens(representation, {caption.image}))[0]);
    }
    double total = 0;
    std::size_t next = 0;  // in `references`
    for (const auto& reference : s.a_score.references) {
      if (reference == setting.name) {  // against itself: its own tokens, no second copy of its encoders
        for (const auto& tokens : mine) total += scores::alignment_similarity(tokens, tokens);
        continue;
      }
      auto& ref = references[next];
      auto& ref_representation = *reference_representations[next++];
      torch::NoGradGuard frozen;
      for (std::size_t i = 0; i < state.heldout.size(); ++i) {
        const auto theirs =
            ref.projector->forward(models::visual_tokens(ref_representation, {state.heldout[i].image}))[0];
        total += scores::alignment_similarity(mine[i], theirs);
      }
    }
    similarity = total / static_cast<double>(s.a_score.references.size() * state.heldout.size());
  }

  double a_mean = 0;
  for (const double v : a) a_mean += v;
  a_mean /= static_cast<double>(a.size());
  result.values = {a_mean,
                   c.summary.pck_keypoints,
                   c.summary.pck_per_pair,
                   similarity,
                   trained.loss.empty() ? std::numeric_limits<double>::quiet_NaN() : trained.loss.back(),
                   static_cast<double>(trained.examples),
                   static_cast<double>(trained.too_long)};
  result.per_sample["A"] = a;
  auto& correct = result.per_sample["C_correct"];
  auto& per_pair = result.per_sample["C_per_pair"];
  for (const auto& match : c.matches) {
    double hits = 0;
    for (const bool ok : match.correct) {
      correct.push_back(ok ? 1.0 : 0.0);
      hits += ok ? 1.0 : 0.0;
    }
    per_pair.push_back(100.0 * hits / static_cast<double>(match.correct.size()));
  }
  for (const auto& category : plan.categories) {
    const auto found = c.summary.pck_per_category.find(category);
    result.per_sample["C_per_category"].push_back(
        found == c.summary.pck_per_category.end() ? std::numeric_limits<double>::quiet_NaN() : found->second);
  }
  result.per_sample["stage1_loss"] = trained.loss;
  std::fprintf(stderr, "acsweep [rank %d] %s: A %.4f, C %.2f%% (%zu keypoints), A_similarity %.4f\n", rank,
               setting.name.c_str(), a_mean, c.summary.pck_keypoints, c.summary.keypoints, similarity);
  return result;
}

// What every finetune on a rank shares, loaded by its first finetune.
struct FinetuneState {
  std::vector<models::ImagePrompt> conversations;
  std::vector<eval::Benchmark> benchmarks;
};

std::shared_ptr<FinetuneState> load_finetune_state(const runtime::FinetuneSection& f,
                                                   const models::Tokenizer& tokenizer) {
  auto state = std::make_shared<FinetuneState>();
  std::size_t left_out = 0;
  state->conversations = models::vicuna_conversations(
      tokenizer, data::read_llava_json(f.stage2.data, f.stage2.images), left_out);
  for (const auto& b : f.benchmarks)
    state->benchmarks.push_back(eval::read_benchmark(
        b.path, fs::path(b.path).parent_path().string(),
        b.kind == "yes_no" ? eval::BenchmarkKind::yes_no : eval::BenchmarkKind::multiple_choice, b.name));
  return state;
}

runtime::TaskResult finetune_setting(ScorerState& state, FinetuneState& finetune, const runtime::JobSpec& job,
                                     const runtime::TaskDescriptor& task, MPI_Comm group, int rank) {
  const auto& s = *job.scoring;
  const auto& f = *s.finetune;
  const auto& setting = s.search.settings.at(std::stoul(task.inputs.at("setting")));
  int group_rank = 0;
  runtime::check_mpi(MPI_Comm_rank(group, &group_rank), "MPI_Comm_rank(worker group)");
  auto representation = load_representation(setting, s.search, state.device);
  const auto stage1_projector =
      stage1(state, representation, setting, task.inputs.at("stage1_hash"), job, rank, group).projector;

  // Stage 2 trains copies: the shared LLM stays frozen for the scores.
  auto llm = models::load_llama(s.llm.folder);
  llm->to(state.device);
  models::Projector projector(representation.channels(), llm->config().hidden_size);
  projector->to(state.device);
  {
    torch::NoGradGuard no_grad;
    auto from = stage1_projector->parameters(), to = projector->parameters();
    for (std::size_t i = 0; i < to.size(); ++i) to[i].copy_(from[i]);
  }
  train::Stage2Options o;
  o.learning_rate = f.stage2.learning_rate;
  o.global_batch = f.stage2.global_batch;
  o.micro_batch = f.stage2.micro_batch;
  o.epochs = f.stage2.epochs;
  o.warmup_ratio = f.stage2.warmup_ratio;
  o.weight_decay = f.stage2.weight_decay;
  o.max_grad_norm = f.stage2.max_grad_norm;
  o.data_seed = law::derive_seed(job.seed, {kStage2Order});
  o.bf16 = bf16_on(s.llm, state.device);
  o.max_length = f.stage2.max_length;
  o.checkpoint_every = f.stage2.checkpoint_every;
  if (o.checkpoint_every > 0) {
    o.checkpoint_dir = (fs::path(job.output) / "stage2" / task.inputs.at("stage2_hash")).string();
    fs::create_directories(o.checkpoint_dir);
  }
  const auto all_reduce = group_all_reduce(state.device, group, f.stage2.overlap_reduction);
  auto last = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  const auto trained = train::train_stage2(
      llm, projector, representation, finetune.conversations, o, *all_reduce, group_rank,
      [&](const train::Stage2Progress& p) {
        const auto now = std::chrono::steady_clock::now();
        if (group_rank != 0 || (now - last < std::chrono::seconds(2) && p.step != p.steps)) return;
        last = now;
        char mfu[48] = "";  // model FLOP/s over the device's peak, when the job gives it
        if (f.stage2.peak_tflops > 0)
          std::snprintf(mfu, sizeof mfu, ", MFU %.2f%%",
                        100 * p.flops_per_second / (f.stage2.peak_tflops * 1e12));
        std::fprintf(stderr,
                     "acsweep [rank %d] %s: stage 2 step %lld/%lld, loss %.4f, %.0f tokens/s and %.2f model "
                     "GFLOP/s per rank%s\n",
                     rank, setting.name.c_str(), static_cast<long long>(p.step),
                     static_cast<long long>(p.steps), p.loss, p.tokens_per_second, p.flops_per_second / 1e9,
                     mfu);
      });
  if (trained.resumed_from > 0 && group_rank == 0)
    std::fprintf(stderr, "acsweep [rank %d] %s: stage 2 resumed from the checkpoint of step %lld\n", rank,
                 setting.name.c_str(), static_cast<long long>(trained.resumed_from));

  // Every rank of the group answers its share of each benchmark; rank 0 scores them all.
  int group_size = 1;
  runtime::check_mpi(MPI_Comm_size(group, &group_size), "MPI_Comm_size(worker group)");
  runtime::TaskResult result;
  const models::Tokenizer tokenizer(s.llm.tokenizer);
  for (const auto& benchmark : finetune.benchmarks) {
    const std::size_t n = benchmark.items.size();
    const std::size_t begin = n * static_cast<std::size_t>(group_rank) / static_cast<std::size_t>(group_size);
    const std::size_t end =
        n * static_cast<std::size_t>(group_rank + 1) / static_cast<std::size_t>(group_size);
    eval::Benchmark share = benchmark;
    share.items.assign(benchmark.items.begin() + static_cast<long>(begin),
                       benchmark.items.begin() + static_cast<long>(end));
    const auto mine = eval::choose_answers(share, llm, projector, representation, tokenizer);
    std::vector<std::int64_t> chosen(n, 0);  // zero outside this rank's share, so the sum gathers them
    for (std::size_t i = 0; i < mine.size(); ++i) chosen[begin + i] = static_cast<std::int64_t>(mine[i]);
    runtime::all_reduce_sum(chosen, group);
    if (group_rank != 0) continue;
    const auto score = eval::score_choices(benchmark, std::vector<std::size_t>(chosen.begin(), chosen.end()));
    result.values.push_back(score.score);
    result.per_sample[benchmark.name + "_correct"] = score.correct;
    std::fprintf(stderr, "acsweep [rank %d] %s: %s %.2f\n", rank, setting.name.c_str(),
                 benchmark.name.c_str(), score.score);
  }
  if (group_rank != 0) return result;  // the group's result is its rank 0's
  for (const float v : trained.step_loss) result.per_sample["stage2_loss"].push_back(v);
  result.values.push_back(trained.step_loss.empty()
                              ? std::numeric_limits<double>::quiet_NaN()
                              : static_cast<double>(static_cast<float>(trained.step_loss.back())));
  result.values.push_back(static_cast<double>(trained.skipped_too_long));
  return result;
}

}  // namespace

void register_scoring_tasks(runtime::TaskRegistry& registry, const ScoringJob& plan,
                            const runtime::JobSpec& job, int rank, int local_rank) {
  auto state = std::make_shared<std::shared_ptr<ScorerState>>();
  registry.add("score", [state, &plan, &job, rank, local_rank](const runtime::TaskDescriptor& task) {
    if (!*state) *state = load_state(plan, *job.scoring, local_rank);
    return score_setting(**state, plan, job, task, rank, MPI_COMM_SELF);
  });
  registry.add_group(
      "score", [state, &plan, &job, rank, local_rank](const runtime::TaskDescriptor& task, MPI_Comm group) {
        if (!*state) *state = load_state(plan, *job.scoring, local_rank);
        return score_setting(**state, plan, job, task, rank, group);
      });
  auto finetune = std::make_shared<std::shared_ptr<FinetuneState>>();
  registry.add_group("finetune", [state, finetune, &plan, &job, rank, local_rank](
                                     const runtime::TaskDescriptor& task, MPI_Comm group) {
    if (!*state) *state = load_state(plan, *job.scoring, local_rank);
    if (!*finetune) *finetune = load_finetune_state(*job.scoring->finetune, *(*state)->tokenizer);
    return finetune_setting(**state, **finetune, job, task, group, rank);
  });
}

}  // namespace acsweep::cli
