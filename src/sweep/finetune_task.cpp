#include "acsweep/sweep/finetune_task.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "acsweep/data/llava.hpp"
#include "acsweep/eval/evaluate.hpp"
#include "acsweep/law/seeded_rng.hpp"
#include "acsweep/models/llava_folder.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/store/text_file.hpp"
#include "acsweep/sweep/memory_plan.hpp"
#include "acsweep/sweep/seed_streams.hpp"
#include "acsweep/sweep/stage1_projector.hpp"
#include "acsweep/train/autocast.hpp"
#include "acsweep/train/prompt_batches.hpp"
#include "acsweep/train/stage2.hpp"

namespace acsweep::sweep {
namespace fs = std::filesystem;

std::shared_ptr<FinetuneData> load_finetune_data(const runtime::FinetuneSection& f,
                                                 const models::Tokenizer& tokenizer, data::ChatTemplate chat,
                                                 const std::vector<std::size_t>& missing) {
  auto state = std::make_shared<FinetuneData>();
  std::size_t left_out = 0;
  state->conversations = models::chat_conversations(
      tokenizer, data::read_llava_json(f.stage2.data, f.stage2.images, &missing), chat, left_out);
  for (const auto& b : f.benchmarks)
    state->benchmarks.push_back(eval::read_benchmark(b.path, fs::path(b.path).parent_path().string(),
                                                     eval::benchmark_kind(b.kind), b.name));
  return state;
}

namespace {

// The kind the job gives the benchmark `name`.
const std::string& spec_kind(const runtime::FinetuneSection& f, const std::string& name) {
  for (const auto& b : f.benchmarks)
    if (b.name == name) return b.kind;
  throw std::logic_error("no [benchmarks] " + name);
}

// <output>/predictions/<the task's hash>/<setting>: one JSONL per benchmark with what was generated.
fs::path predictions_folder(const runtime::JobSpec& job, const runtime::TaskDescriptor& task,
                            const std::string& setting) {
  return fs::path(job.output) / "predictions" / task.hash / setting;
}

// Each rank's generated answers (its share of the items, in order) gathered on the group's rank 0,
// which scores them with the benchmark's rule and writes <folder>/<benchmark>.jsonl: per item the
// dataset's id, the generated text ("prediction", as `acsweep score` reads it), the answer parsed
// from it (multiple choice: the letter; yes/no: yes or no; null when none, and for vqa) and its
// score ("correct": 1 or 0; vqa: its VQA accuracy in [0, 1]). Items not asked (an image that
// does not decode) are not written. Other ranks return nothing.
std::optional<eval::BenchmarkScore> gather_generated(const eval::Benchmark& benchmark,
                                                     const std::vector<std::optional<std::string>>& mine,
                                                     MPI_Comm group, int group_rank, const fs::path& folder) {
  nlohmann::json share = nlohmann::json::array();
  for (const auto& text : mine) share.push_back(text ? nlohmann::json(*text) : nlohmann::json());
  // A generated text may end inside a UTF-8 character (max_new_tokens cuts it, or the model emits
  // stray byte tokens): such bytes become U+FFFD rather than failing the dump.
  constexpr auto kReplace = nlohmann::json::error_handler_t::replace;
  const auto parts = runtime::gather(share.dump(-1, ' ', false, kReplace), 0, group);
  if (group_rank != 0) return std::nullopt;
  std::vector<std::optional<std::string>> texts;
  for (const auto& part : parts)
    for (const auto& text : nlohmann::json::parse(part))
      texts.push_back(text.is_string() ? std::optional<std::string>(text.get<std::string>()) : std::nullopt);
  auto score = eval::score_generated(benchmark, texts);
  std::string lines;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (!texts[i]) continue;
    const auto& item = benchmark.items[i];
    nlohmann::json answer;  // null: none parsed, or open-ended
    if (!eval::is_open(benchmark, item)) {
      const auto parsed = eval::parsed_answer(benchmark, item, *texts[i]);
      if (parsed != eval::kNotAnswered)
        answer = eval::is_yes_no(benchmark.kind) ? (parsed == 0 ? "yes" : "no")
                                                 : std::string(1, static_cast<char>('A' + parsed));
    }
    lines +=
        nlohmann::json{
            {"id", item.id}, {"prediction", *texts[i]}, {"answer", answer}, {"correct", score.correct[i]}}
            .dump(-1, ' ', false, kReplace) +
        "\n";
  }
  fs::create_directories(folder);
  store::write_text_atomically((folder / (benchmark.name + ".jsonl")).string(), lines);
  return score;
}

}  // namespace

runtime::TaskResult finetune_setting(RankState& state, FinetuneData& finetune, const runtime::JobSpec& job,
                                     const runtime::TaskDescriptor& task, MPI_Comm group, int rank) {
  const auto& s = *job.scoring;
  const auto& f = *s.finetune;
  const auto& setting = s.search.settings.at(std::stoul(task.inputs.at("setting")));
  const auto chat = data::chat_template_named(s.llm.chat_template);
  int group_rank = 0, group_size = 1;
  runtime::check_mpi(MPI_Comm_rank(group, &group_rank), "MPI_Comm_rank(worker group)");
  runtime::check_mpi(MPI_Comm_size(group, &group_size), "MPI_Comm_size(worker group)");
  auto representation = load_representation(setting, s.search, state.device);
  const auto stage1 =
      stage1_projector(state, representation, setting, task.inputs.at("stage1_hash"), job, rank, group)
          .projector;

  // Stage 2 trains the rank's LLM itself (the scores' frozen copy, handed over and loaded again by
  // the next score task): a second copy is never held beside it.
  auto llm = take_llm(state);
  models::Projector projector(representation.channels(), llm->config().hidden_size);
  projector->to(state.device);
  {
    torch::NoGradGuard no_grad;
    auto from = stage1->parameters(), to = projector->parameters();
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
  o.data_seed = law::derive_seed(job.seed, {kStage2OrderStream});
  o.bf16 = bf16_on(s.llm, state.device);
  o.max_length = f.stage2.max_length;
  o.max_bad_fraction = job.max_bad_fraction;
  o.loader_threads = data::loader_threads(f.stage2.loader_threads);
  o.checkpoint_every = f.stage2.checkpoint_every;
  o.keep_checkpoints = f.stage2.keep_checkpoints;
  // As the memory plan chose it (shard = auto, param_dtype = auto), for this group and device.
  const auto layout = stage2_layout(job, group_size, state.device.is_cuda(), device_memory(job));
  o.shard = layout.shard;
  o.param_dtype = layout.bf16_weights ? torch::kBFloat16 : torch::kFloat32;
  if (group_rank == 0)
    std::fprintf(stderr, "acsweep [rank %d] %s: stage 2 on %d rank(s), shard %s, %s weights\n", rank,
                 setting.name.c_str(), group_size, train::to_string(o.shard).c_str(),
                 layout.bf16_weights ? "bf16 (float32 master shards)" : "float32");
  o.activation_checkpointing = f.stage2.activation_checkpointing;
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
                     "GFLOP/s per rank%s, peak memory %.2f GiB\n",
                     rank, setting.name.c_str(), static_cast<long long>(p.step),
                     static_cast<long long>(p.steps), p.loss, p.tokens_per_second, p.flops_per_second / 1e9,
                     mfu, static_cast<double>(p.peak_bytes) / (1 << 30));
      });
  report_left_out(rank, group_rank, setting.name, 2, "answer", trained.left_out, trained.truncated,
                  trained.skipped_too_long);
  report_loader(rank, setting.name, 2, trained.seconds, trained.loader_wait_seconds, o.loader_threads);
  if (trained.resumed_from > 0 && group_rank == 0)
    std::fprintf(stderr, "acsweep [rank %d] %s: stage 2 resumed from the checkpoint of step %lld\n", rank,
                 setting.name.c_str(), static_cast<long long>(trained.resumed_from));

  if (f.stage2.save_model && group_rank == 0) {
    // Every rank holds the same weights after the last step; rank 0 writes them.
    models::LlavaMetadata meta;
    for (std::size_t i = 0; i < setting.folders.size(); ++i)
      meta.vision_tower += (i ? "+" : "") + setting.folders[i];
    meta.vision_hidden = representation.channels();
    meta.select_layer = job.scoring->search.layer;
    meta.pad_to_square = job.scoring->search.pad_to_square;
    meta.tokenizer_model = s.llm.tokenizer;
    // "llava" in the folder's name: LLaVA's loader (and lmms-eval's through it) keys on it.
    const auto folder =
        fs::path(job.output) / "stage2" / task.inputs.at("stage2_hash") / ("llava-" + setting.name);
    fs::create_directories(folder.parent_path());
    models::write_llava_folder(folder.string(), train::stage2_parameters(llm, projector), s.llm.folder, meta);
    std::fprintf(stderr, "acsweep [rank %d] %s: the finetuned model is in %s\n", rank, setting.name.c_str(),
                 folder.c_str());
  }

  std::vector<std::int64_t> peak{trained.peak_bytes};  // the group's largest, over its ranks
  runtime::all_reduce_max(peak, group);

  // Every rank of the group answers its share of each benchmark; rank 0 scores them all. bf16
  // weights answer under bf16 autocast (the features the encoders give are float32).
  const train::Bf16Autocast autocast(state.device, o.param_dtype == torch::kBFloat16);
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
    std::vector<std::string> left_out;  // items whose image does not decode: not asked, named
    std::optional<eval::BenchmarkScore> score;
    const std::string answering = f.answering(spec_kind(f, benchmark.name));
    // Progress of this rank's share: every 30 s, and at its end.
    const auto started = std::chrono::steady_clock::now();
    auto printed = started;
    const auto progress = [&](std::size_t done) {
      const auto now = std::chrono::steady_clock::now();
      if (done < share.items.size() && now - printed < std::chrono::seconds(30)) return;
      printed = now;
      const double seconds = std::max(1e-9, std::chrono::duration<double>(now - started).count());
      const double rate = static_cast<double>(done) / seconds;
      std::fprintf(stderr, "acsweep [rank %d] %s: %s %zu/%zu items (%s), %.1f items/s, ETA %.0f s\n", rank,
                   setting.name.c_str(), benchmark.name.c_str(), done, share.items.size(), answering.c_str(),
                   rate, rate > 0 ? static_cast<double>(share.items.size() - done) / rate : 0.0);
    };
    if (answering == "generated") {
      const auto mine =
          eval::generate_answers(share, llm, projector, representation, tokenizer,
                                 {f.new_tokens(spec_kind(f, benchmark.name)),
                                  static_cast<std::size_t>(f.generation_batch), o.loader_threads, chat},
                                 progress, &left_out);
      score =
          gather_generated(benchmark, mine, group, group_rank, predictions_folder(job, task, setting.name));
    } else {
      const auto mine = eval::choose_answers(share, llm, projector, representation, tokenizer, progress,
                                             &left_out, o.loader_threads, chat);
      std::vector<std::int64_t> chosen(n, 0);  // zero outside this rank's share, so the sum gathers them
      for (std::size_t i = 0; i < mine.size(); ++i) chosen[begin + i] = static_cast<std::int64_t>(mine[i]);
      runtime::all_reduce_sum(chosen, group);
      if (group_rank == 0)
        score = eval::score_choices(benchmark, std::vector<std::size_t>(chosen.begin(), chosen.end()));
    }
    for (const auto& why : left_out)
      std::fprintf(stderr, "acsweep [rank %d] %s: %s left out: %s\n", rank, setting.name.c_str(),
                   benchmark.name.c_str(), why.c_str());
    if (group_rank != 0) continue;
    result.values.push_back(score->score);
    result.per_sample[benchmark.name + "_correct"] = score->correct;
    std::fprintf(stderr, "acsweep [rank %d] %s: %s %.2f (%s)\n", rank, setting.name.c_str(),
                 benchmark.name.c_str(), score->score, answering.c_str());
  }
  if (group_rank != 0) return result;  // the group's result is its rank 0's
  for (const float v : trained.step_loss) result.per_sample["stage2_loss"].push_back(v);
  result.values.push_back(trained.step_loss.empty()
                              ? std::numeric_limits<double>::quiet_NaN()
                              : static_cast<double>(static_cast<float>(trained.step_loss.back())));
  result.values.push_back(static_cast<double>(trained.skipped_too_long));
  result.values.push_back(static_cast<double>(peak[0]));
  return result;
}

}  // namespace acsweep::sweep
