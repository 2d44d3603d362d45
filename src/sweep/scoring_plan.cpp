#include "acsweep/sweep/scoring_plan.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "acsweep/data/llava.hpp"
#include "acsweep/data/preprocessor.hpp"
#include "acsweep/data/spair.hpp"
#include "acsweep/error.hpp"
#include "acsweep/eval/benchmarks.hpp"
#include "acsweep/law/seeded_rng.hpp"
#include "acsweep/models/diffusion_config.hpp"
#include "acsweep/models/hf_config.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/runtime/content_hash.hpp"
#include "acsweep/sweep/encoder_options.hpp"
#include "acsweep/sweep/seed_streams.hpp"

namespace acsweep::sweep {
namespace {
namespace fs = std::filesystem;

// The bytes of a folder's files: its weights, near enough.
double folder_bytes(const std::string& folder) {
  double bytes = 0;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.is_regular_file()) bytes += static_cast<double>(entry.file_size());
  return bytes;
}

// What a setting's cost is made of: the visual tokens it gives the LLM, its finest member's grid
// (combinations are resized to it): the input size (the setting's resolution, or the preprocessor's
// crop or resize) over the patch of config.json, or a diffusers pipeline's feature grid; none for a
// TorchScript member, whose grid only running it tells. And the bytes of the weights its encoders
// pass the images through: a folder's files, or a pipeline's parts that its feature map uses.
struct SettingSize {
  std::optional<double> tokens;
  double encoder_bytes = 0;
};

SettingSize setting_size(const runtime::SettingSpec& setting, const runtime::SearchSection& search) {
  SettingSize out;
  double tokens = 0;
  bool known = true;
  const auto options = encoder_options(setting, search);
  for (const auto& folder : setting.folders) {
    if (models::is_diffusion_folder(folder)) {
      const auto shape = models::encoder_shape(folder, options);
      tokens = std::max(tokens, static_cast<double>(shape.grid_width * shape.grid_height));
      out.encoder_bytes += static_cast<double>(shape.weight_bytes);
      continue;
    }
    out.encoder_bytes += folder_bytes(folder);
    const std::string config = folder + "/config.json", processor = folder + "/preprocessor_config.json";
    if (!known || !fs::is_regular_file(config) || !fs::is_regular_file(processor)) {
      known = false;
      continue;
    }
    const auto patch = static_cast<double>(models::read_vision_tower_config(config).patch_size);
    const data::ImagePreprocessor p = data::read_preprocessor_config(processor);
    double width = p.do_center_crop ? p.crop_width : p.resize_width;
    double height = p.do_center_crop ? p.crop_height : p.resize_height;
    if (width <= 0 || height <= 0) width = height = p.shortest_edge;
    if (setting.resolution > 0) width = height = setting.resolution;
    tokens = std::max(tokens, std::floor(width / patch) * std::floor(height / patch));
  }
  if (known) out.tokens = tokens;
  return out;
}

// The settings' estimated costs, for scheduling the largest first: Stage 1 and the scores run the
// encoders and the LLM over every visual token (text is the same for every setting), so
// visual tokens times the weights they pass through. A setting of unknown grid is costed as the
// largest known one: started early rather than left to end the phase.
std::vector<double> estimate_costs(const runtime::ScoringSection& s) {
  const double llm_bytes = folder_bytes(s.llm.folder);
  std::vector<SettingSize> sizes;
  double most = 1;
  for (const auto& setting : s.search.settings) {
    sizes.push_back(setting_size(setting, s.search));
    if (sizes.back().tokens) most = std::max(most, *sizes.back().tokens);
  }
  std::vector<double> costs;
  for (const auto& size : sizes)
    costs.push_back(std::max(1.0, size.tokens.value_or(most) * (llm_bytes + size.encoder_bytes) / 1e6));
  return costs;
}

// What a file or a folder's files are, cheaply: names, sizes and modification times (model
// folders run to gigabytes; reading them to hash would cost more than scoring).
void add_identity(runtime::ContentHash& hash, const std::string& path) {
  std::vector<fs::path> files;
  if (fs::is_directory(path)) {
    for (const auto& entry : fs::directory_iterator(path))
      if (entry.is_regular_file()) files.push_back(entry.path());
  } else {
    files.push_back(path);
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::error_code ec;
    const auto size = fs::file_size(f, ec);
    const auto time = fs::last_write_time(f, ec).time_since_epoch().count();
    hash.add(f.filename().string()).add(std::to_string(size)).add(std::to_string(time));
  }
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

}  // namespace

const std::vector<std::string>& ScoringPlan::value_names() {
  static const std::vector<std::string> names{"A",
                                              "C",
                                              "C_per_image",
                                              "A_similarity",
                                              "stage1_final_loss",
                                              "stage1_captions",
                                              "stage1_too_long",
                                              "A_left_out",   // held-out captions whose image did not decode
                                              "C_left_out"};  // pairs with an image that did not decode
  return names;
}

std::vector<std::string> ScoringPlan::finetune_value_names() const {
  auto names = benchmark_names;
  names.push_back("stage2_final_loss");
  names.push_back("stage2_too_long");
  names.push_back("stage2_peak_bytes");  // the largest of the group's ranks, at the end of Stage 2
  return names;
}

std::size_t ScoringPlan::width() const {
  return std::max(value_names().size(), score_tasks < tasks.size() ? finetune_value_names().size() : 0);
}

std::map<std::string, std::size_t> ScoringPlan::sample_widths() const {
  std::map<std::string, std::size_t> widths{{"A", heldout.size()},
                                            {"C_correct", keypoints},
                                            {"C_per_pair", pair_names.size()},
                                            {"C_per_category", categories.size()},
                                            {"stage1_loss", stage1_steps}};
  if (score_tasks < tasks.size()) {
    widths["stage2_loss"] = stage2_steps;
    for (std::size_t b = 0; b < benchmark_names.size(); ++b)
      widths[benchmark_names[b] + "_correct"] = benchmark_items[b];
  }
  return widths;
}

std::string ScoringPlan::sample_width_source(const std::string& name) {
  static const std::map<std::string, std::string> sources{
      {"A", "[a_score] n"},
      {"C_correct", "the keypoints of [c_score] max_pairs pairs"},
      {"C_per_pair", "[c_score] max_pairs"},
      {"C_per_category", "the pairs' categories"},
      {"stage1_loss", "the loss of every step: [stage1] epochs, the captions and global_batch"},
      {"stage2_loss", "the loss of every step: [stage2] epochs, the conversations and global_batch"}};
  const auto found = sources.find(name);
  if (found != sources.end()) return found->second;
  const std::string suffix = "_correct";
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
    return "the items of [benchmarks] " + name.substr(0, name.size() - suffix.size());
  return name;
}

namespace {

// The finetune tasks: one whole-group task per chosen setting, after the score tasks.
void plan_finetunes(ScoringPlan& plan, const runtime::JobSpec& job, const MissingImages* found) {
  const auto& s = *job.scoring;
  const auto& f = *s.finetune;
  const data::LlavaDataset conversations =
      data::read_llava_json(f.stage2.data, f.stage2.images, found ? &found->stage2 : nullptr);
  plan.missing.stage2 = conversations.missing;
  plan.skipped.insert(plan.skipped.end(), conversations.skipped.begin(), conversations.skipped.end());
  std::size_t with_image = 0, trained = 0;  // Stage 2 trains text-only conversations too
  for (const auto& example : conversations.examples) {
    if (!data::trained_in_stage2(example)) continue;
    ++trained;
    with_image += example.image.empty() ? 0 : 1;
  }
  if (with_image == 0) throw InputError(f.stage2.data + ": no conversation with an image for Stage 2");
  // At most: a conversation left out for its length is known only once tokenized.
  const auto per_epoch = (trained + static_cast<std::size_t>(f.stage2.global_batch) - 1) /
                         static_cast<std::size_t>(f.stage2.global_batch);
  plan.stage2_steps = per_epoch * static_cast<std::size_t>(f.stage2.epochs);
  runtime::ContentHash benchmarks_hash;
  for (const auto& b : f.benchmarks) {
    const auto benchmark = eval::read_benchmark(b.path, fs::path(b.path).parent_path().string(),
                                                eval::benchmark_kind(b.kind), b.name);
    plan.skipped.insert(plan.skipped.end(), benchmark.skipped.begin(), benchmark.skipped.end());
    plan.benchmark_names.push_back(b.name);
    plan.benchmark_items.push_back(benchmark.items.size());
    benchmarks_hash.add(b.name).add(b.kind);
    add_identity(benchmarks_hash, b.path);
    if (b.kind == "mme") {  // its files are in a folder per category
      std::vector<fs::path> categories;
      for (const auto& entry : fs::directory_iterator(b.path))
        if (entry.is_directory()) categories.push_back(entry.path());
      std::sort(categories.begin(), categories.end());
      for (const auto& category : categories) {
        add_identity(benchmarks_hash, category.string());
        for (const char* inner : {"questions_answers_YN", "images"})
          if (fs::is_directory(category / inner)) add_identity(benchmarks_hash, (category / inner).string());
      }
    }
  }
  // How answers are given changes every score: part of the task (the default adds nothing, so
  // results from before generation existed stay valid).
  if (f.answers != "likelihood") benchmarks_hash.add("answers=" + f.answers);
  if (std::any_of(f.benchmarks.begin(), f.benchmarks.end(),
                  [&f](const auto& b) { return f.answering(b.kind) == "generated"; }))
    benchmarks_hash.add("max_new_tokens=" + std::to_string(f.max_new_tokens));
  // lmms-eval's own limit of 16 new tokens for these kinds, applied since mmmu came.
  for (const auto& b : f.benchmarks)
    if (f.answering(b.kind) == "generated" && f.new_tokens(b.kind) != f.max_new_tokens)
      benchmarks_hash.add("new_tokens " + b.name + "=" + std::to_string(f.new_tokens(b.kind)));
  // Their images unpadded under image_aspect_ratio = pad (eval::image_aspect), likewise since mmmu.
  if (s.search.pad_to_square)
    for (const auto& b : f.benchmarks)
      if (eval::original_aspect(eval::benchmark_kind(b.kind)))
        benchmarks_hash.add("original aspect " + b.name);
  std::vector<std::string> setting_names;
  for (const auto& setting : s.search.settings) setting_names.push_back(setting.name);
  plan.known = read_known_results(f.known, setting_names, plan.benchmark_names);
  for (const auto& name : f.settings) {
    std::size_t i = 0;
    while (s.search.settings[i].name != name) ++i;
    if (plan.known.has(i)) continue;  // measured before: counts as finetuned
    const auto& score = plan.tasks[i];
    runtime::ContentHash stage2_hash;
    stage2_hash.add("stage2").add(score.inputs.at("stage1_hash"));
    add_identity(stage2_hash, f.stage2.data);
    for (const double v :
         {f.stage2.learning_rate, f.stage2.warmup_ratio, f.stage2.weight_decay, f.stage2.max_grad_norm})
      stage2_hash.add(std::to_string(v));
    for (const auto v : {f.stage2.global_batch, f.stage2.micro_batch, f.stage2.epochs})
      stage2_hash.add(std::to_string(v));
    if (f.stage2.max_length != 2048) stage2_hash.add("max_length=" + std::to_string(f.stage2.max_length));
    // LLaVA's own handling of its data (the image first, text-only conversations trained, long
    // ones cut): Stage 2 trains on other examples than before it came.
    stage2_hash.add("llava data rules");
    // The conversation template shapes Stage 2's prompts and the benchmarks' (vicuna_v1 leaves the
    // hashes of runs made before the key came as they were).
    if (s.llm.chat_template != "vicuna_v1") stage2_hash.add("template=" + s.llm.chat_template);
    runtime::ContentHash task_hash = stage2_hash;
    task_hash.add("finetune").add(benchmarks_hash.hex());

    runtime::TaskDescriptor task;
    task.index = plan.tasks.size();
    task.kind = "finetune";
    task.name = name + " (finetune)";
    task.hash = task_hash.hex();
    task.inputs = {{"setting", std::to_string(i)},
                   {"stage1_hash", score.inputs.at("stage1_hash")},
                   {"stage2_hash", stage2_hash.hex()}};
    task.cost = score.cost * 100;  // Stage 2 trains the LLM too: far more than a score
    task.whole_group = true;
    plan.finetune_task[i] = plan.tasks.size();
    plan.tasks.push_back(task);
  }
}

}  // namespace

ScoringPlan plan_scoring(const runtime::JobSpec& job, const MissingImages* found) {
  const auto& s = *job.scoring;
  ScoringPlan plan;
  const data::LlavaDataset captions =
      data::read_llava_json(s.stage1.data, s.stage1.images, found ? &found->stage1 : nullptr);
  plan.missing.stage1 = captions.missing;
  plan.skipped = captions.skipped;
  std::vector<std::string> ids;
  for (const auto& example : captions.examples)
    if (!example.image.empty()) ids.push_back(example.id);
  const auto n = static_cast<std::size_t>(s.a_score.n);
  if (ids.size() <= n)
    throw InputError(s.stage1.data + ": " + std::to_string(ids.size()) +
                     " captions with images; [a_score] n = " + std::to_string(n) +
                     " held out would leave none to train Stage 1 on");
  // The manifest: n captions drawn with the seed (a partial Fisher-Yates); the rest trains.
  std::vector<std::size_t> order(ids.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  law::SeededRng rng(law::derive_seed(job.seed, {kManifestStream}));
  for (std::size_t i = 0; i < n; ++i) std::swap(order[i], order[i + rng.below(order.size() - i)]);
  plan.heldout.assign(order.begin(), order.begin() + static_cast<long>(n));
  std::vector<bool> held(ids.size(), false);
  for (const auto i : plan.heldout) {
    held[i] = true;
    plan.heldout_ids.push_back(ids[i]);
  }
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (!held[i] &&
        (s.stage1.max_samples == 0 || plan.train.size() < static_cast<std::size_t>(s.stage1.max_samples)))
      plan.train.push_back(i);
  const auto per_epoch = (plan.train.size() + static_cast<std::size_t>(s.stage1.global_batch) - 1) /
                         static_cast<std::size_t>(s.stage1.global_batch);
  plan.stage1_steps = per_epoch * static_cast<std::size_t>(s.stage1.epochs);

  const data::KeypointPairs pairs =
      data::read_spair(s.c_score.root, s.c_score.split, static_cast<std::size_t>(s.c_score.max_pairs));
  plan.skipped.insert(plan.skipped.end(), pairs.skipped.begin(), pairs.skipped.end());
  if (pairs.pairs.empty())
    throw InputError(s.c_score.root + ": no valid keypoint pair in split '" + s.c_score.split + "'");
  for (const auto& pair : pairs.pairs) {
    plan.pair_names.push_back(pair.name);
    plan.pair_categories.push_back(pair.category);
    plan.pair_keypoints.push_back(static_cast<std::int64_t>(pair.source_points.size()));
    plan.keypoints += pair.source_points.size();
    if (std::find(plan.categories.begin(), plan.categories.end(), pair.category) == plan.categories.end())
      plan.categories.push_back(pair.category);
  }
  std::sort(plan.categories.begin(), plan.categories.end());

  // Hashes: the Stage-1 projector's (setting, LLM, captions, recipe, seed, manifest), then the task's.
  const std::vector<double> costs = estimate_costs(s);
  for (std::size_t i = 0; i < s.search.settings.size(); ++i) {
    const auto& setting = s.search.settings[i];
    runtime::ContentHash stage1_hash;
    stage1_hash.add("stage1").add(setting.name).add(std::to_string(setting.resolution));
    stage1_hash.add(std::to_string(s.search.layer)).add(s.search.pad_to_square ? "pad" : "crop");
    if (s.search.diffusion_block != -1)  // the default adds nothing: earlier results keep their hashes
      stage1_hash.add("diffusion_block=" + std::to_string(s.search.diffusion_block));
    if (s.search.dit_null_class) stage1_hash.add("dit_null_class");
    for (const auto& folder : setting.folders) add_identity(stage1_hash, folder);
    if (s.stage1.data_parallel) stage1_hash.add("data-parallel");  // not bit-identical to one rank
    if (s.llm.autocast != "auto") stage1_hash.add("autocast=" + s.llm.autocast);  // auto: the device's own
    // Defaults stay out of the hash, so projectors made before these keys existed stay valid.
    if (s.stage1.max_length != 2048) stage1_hash.add("max_length=" + std::to_string(s.stage1.max_length));
    add_identity(stage1_hash, s.llm.folder);
    add_identity(stage1_hash, s.llm.tokenizer);
    add_identity(stage1_hash, s.stage1.data);
    for (const double v :
         {s.stage1.learning_rate, s.stage1.warmup_ratio, s.stage1.weight_decay, s.stage1.max_grad_norm})
      stage1_hash.add(std::to_string(v));
    for (const auto v : {s.stage1.global_batch, s.stage1.micro_batch, s.stage1.epochs, s.stage1.max_samples})
      stage1_hash.add(std::to_string(v));
    stage1_hash.add(std::to_string(job.seed)).add(join(plan.heldout_ids, "\n"));

    runtime::ContentHash task_hash = stage1_hash;
    task_hash.add("score").add(std::to_string(s.a_score.batch)).add(join(s.a_score.references, ","));
    task_hash.add(s.c_score.root).add(s.c_score.split).add(std::to_string(s.c_score.alpha));
    task_hash.add(std::to_string(s.c_score.max_pairs)).add(s.c_score.upsample ? "upsample" : "grid");
    task_hash.add(join(plan.pair_names, ","));

    runtime::TaskDescriptor task;
    task.index = i;
    task.kind = "score";
    task.name = setting.name;
    task.hash = task_hash.hex();
    task.inputs = {{"setting", std::to_string(i)}, {"stage1_hash", stage1_hash.hex()}};
    task.cost = costs[i];
    task.whole_group = s.stage1.data_parallel;
    plan.tasks.push_back(task);
  }
  plan.score_tasks = plan.tasks.size();
  plan.finetune_task.assign(plan.score_tasks, std::string::npos);
  if (s.finetune) plan_finetunes(plan, job, found);
  return plan;
}

}  // namespace acsweep::sweep
