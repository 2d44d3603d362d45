#include "acsweep/sweep/stage1_projector.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "acsweep/law/seeded_rng.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/torch_weights.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/sweep/seed_streams.hpp"
#include "acsweep/train/prompt_batches.hpp"
#include "acsweep/train/stage1.hpp"

namespace acsweep::sweep {
namespace {
namespace fs = std::filesystem;

std::uint64_t name_number(const std::string& name) {
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : name) h = (h ^ c) * 0x100000001B3ULL;
  return h;
}

}  // namespace

std::string stage1_folder(const runtime::JobSpec& job, const std::string& stage1_hash) {
  return (fs::path(job.output) / "stage1" / stage1_hash).string();
}

Stage1Projector stage1_projector(RankState& state, models::VisionRepresentation& representation,
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
  Stage1Projector out;
  if (saved) {
    out.projector = models::Projector(representation.channels(), frozen_llm(state)->config().hidden_size);
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
  o.data_seed = law::derive_seed(job.seed, {kStage1OrderStream});
  o.init_seed = law::derive_seed(job.seed, {kStage1InitStream, name_number(setting.name)});
  o.bf16 = bf16_on(job.scoring->llm, state.device);
  o.max_length = s.max_length;
  o.max_bad_fraction = job.max_bad_fraction;
  o.activation_checkpointing = s.activation_checkpointing;
  o.loader_threads = data::loader_threads(s.loader_threads);
  auto last = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  std::unique_ptr<train::AllReduce> all_reduce;
  if (s.data_parallel)
    all_reduce = group_all_reduce(state.device, group);
  else
    all_reduce = std::make_unique<train::SingleRankAllReduce>();
  auto result = train::train_projector(
      frozen_llm(state), representation, state.train, o, *all_reduce, group_rank,
      [&](const train::Stage1Progress& p) {
        const auto now = std::chrono::steady_clock::now();
        if (group_rank != 0 || (now - last < std::chrono::seconds(2) && p.step != p.steps)) return;
        last = now;
        const double eta = p.examples_per_second > 0
                               ? static_cast<double>(p.steps - p.step) * static_cast<double>(s.global_batch) /
                                     p.examples_per_second
                               : 0.0;
        std::fprintf(stderr,
                     "acsweep [rank %d] %s: stage 1 step %lld/%lld, loss %.4f, %.1f captions/s, ETA %.0f s, "
                     "peak memory %.2f GiB\n",
                     rank, setting.name.c_str(), static_cast<long long>(p.step),
                     static_cast<long long>(p.steps), p.loss, p.examples_per_second, eta,
                     static_cast<double>(p.peak_bytes) / (1 << 30));
      });
  report_left_out(rank, group_rank, setting.name, 1, "caption", result.left_out, result.truncated,
                  result.skipped_too_long);
  report_loader(rank, setting.name, 1, result.seconds, result.loader_wait_seconds, o.loader_threads);
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

void report_left_out(int rank, int group_rank, const std::string& setting, int stage, const char* trained,
                     const std::set<std::string>& bad, std::size_t truncated, std::size_t too_long) {
  for (const auto& why : bad)  // each rank its own examples
    std::fprintf(stderr, "acsweep [rank %d] %s: stage %d left out (its %s out of the loss): %s\n", rank,
                 setting.c_str(), stage, trained, why.c_str());
  if (group_rank == 0 && (truncated > 0 || too_long > 0))
    std::fprintf(
        stderr,
        "acsweep [rank %d] %s: stage %d: %zu examples cut to the context as LLaVA cuts them, %zu left "
        "out (their image, or all their %s, beyond it)\n",
        rank, setting.c_str(), stage, truncated, too_long, trained);
}

void report_loader(int rank, const std::string& setting, int stage, double seconds, double waited,
                   std::size_t threads) {
  if (seconds <= 0) return;
  std::fprintf(stderr,
               "acsweep [rank %d] %s: stage %d waited %.1f s of %.1f s (%.1f%%) for its images, %zu loader "
               "thread(s)\n",
               rank, setting.c_str(), stage, waited, seconds, 100 * waited / seconds, threads);
}

}  // namespace acsweep::sweep
