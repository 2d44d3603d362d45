#include "acsweep/runtime/job_file.hpp"

#include <boost/program_options.hpp>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "acsweep/bounded_read.hpp"
#include "acsweep/error.hpp"
#include "acsweep/path_checks.hpp"
#include "acsweep/runtime/option_errors.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace acsweep::runtime {
namespace {

// More passes over the data than any run makes (LLaVA trains one of each stage).
constexpr std::int64_t kMaxEpochs = 1000;

constexpr const char* kLoaderThreadsHelp =
    "threads decoding and preprocessing the next batches' images (0: the calling thread itself; default: "
    "the CPUs the rank may run on)";

// "section.key" -> "[section] key", the way a reader finds it in the file.
std::string where(const std::string& path, const std::string& dotted) {
  const auto dot = dotted.find('.');
  if (dot == std::string::npos) return path + ": key '" + dotted + "'";
  return path + ": [" + dotted.substr(0, dot) + "] " + dotted.substr(dot + 1);
}

po::options_description schema() {
  po::options_description d("job file keys");
  d.add_options()
      // [job]
      ("job.name", po::value<std::string>(), "name of the job; a results directory belongs to one job")(
          "job.output", po::value<std::string>()->default_value("results"), "results directory")(
          "job.seed", po::value<std::int64_t>()->default_value(0), "seed of every random choice")(
          "job.max_attempts", po::value<int>()->default_value(3), "tries of a failing task")(
          "job.max_bad_fraction", po::value<double>()->default_value(0.01, "0.01"),
          "share of a stage's training examples whose image may not decode before the task fails")(
          "job.budget", po::value<std::int64_t>(),
          "settings the AC policy finetunes (k'; finetune.settings = policy)")(
          "job.validate", po::value<bool>()->default_value(false),
          "finetune every setting too, to judge the policy's pick (Recall@1, @3 against random)")(
          "job.sampler", po::value<std::string>()->default_value("region"),
          "how the policy picks its finetunes: region (the paper's region-based sampling, all at once), "
          "sequential (each round from the fit so far, as many as there are worker groups) or random")
      // [layout]
      ("layout.device_memory_gib", po::value<double>()->default_value(0.0, "0"),
       "memory per rank's device in GiB that the memory plan must fit (0: CUDA's own, no limit on a CPU)")(
          "layout.groups", po::value<int>(), "worker groups (G)")("layout.group_size", po::value<int>(),
                                                                  "ranks per worker group (S)")
      // [simulation]
      ("simulation.tables", po::value<std::string>(), "comma-separated tables (CSV) to judge the policy on")(
          "simulation.budgets", po::value<std::string>()->default_value("all"), "'all' or a comma list")(
          "simulation.runs", po::value<std::int64_t>()->default_value(1000), "runs per budget")(
          "simulation.runs_per_task", po::value<std::int64_t>()->default_value(100), "runs in one task")(
          "simulation.samplers", po::value<std::string>()->default_value("both"),
          "region, random, sequential, both (region and random) or all")(
          "simulation.fit", po::value<std::string>()->default_value("ols"),
          "ols or ridge: how each run fits the Law (acsweep policy --help)")(
          "simulation.counting", po::value<std::string>()->default_value("exact"),
          "exact, first-hit (the paper's AC_sample.py) or both: how a run counts as a hit (acsweep policy "
          "--help)")
      // [llm]
      ("llm.folder", po::value<std::string>(),
       "the LLM's HF folder (config.json, safetensors, tokenizer.model or tokenizer.json)")(
          "llm.tokenizer", po::value<std::string>(),
          "tokenizer.model (SentencePiece) or tokenizer.json (byte-level BPE) (default: llm.folder's, "
          "tokenizer.model first)")(
          "llm.autocast", po::value<std::string>()->default_value("auto"),
          "bf16 autocast of Stage 1 and Stage 2 forward passes: auto (on CUDA), bf16 or off")(
          "llm.template", po::value<std::string>()->default_value("vicuna_v1"),
          "the conversation template of Stage 2 and the benchmarks, as LLaVA names it: vicuna_v1 (Vicuna, "
          "Llama 2) or qwen_2 (Qwen2 and Qwen2.5, ChatML); Stage 1 always uses plain")
      // [encoders]: NAME = FOLDER lines, any names
      // [search]
      ("search.settings", po::value<std::string>(),
       "settings separated by ';', each encoder names joined by '+' (a combination), optionally '@' and "
       "its own input side")("search.resolutions", po::value<std::string>()->default_value("native"),
                             "'native' or a comma list of input sides; every setting at each")(
          "search.layer", po::value<int>()->default_value(-2),
          "hidden state of native towers (-2: penultimate)")("search.image_aspect_ratio",
                                                             po::value<std::string>()->default_value("crop"),
                                                             "crop or pad (LLaVA's)")(
          "search.diffusion_block", po::value<int>()->default_value(-1),
          "diffusers pipelines: the U-Net up-sampling block or the DiT block whose output is the feature map "
          "(-1: the paper's, the first up block or DiT's last block)")(
          "search.dit_null_class", po::value<bool>()->default_value(false),
          "DiT: condition the blocks on the null class as well as the timestep (false: the timestep "
          "alone, as the paper's featurizer)")
      // [stage1]
      ("stage1.data", po::value<std::string>(), "LLaVA JSON of image-caption pairs")(
          "stage1.images", po::value<std::string>(), "the image folder")(
          "stage1.lr", po::value<double>()->default_value(1e-3, "1e-3"), "peak learning rate")(
          "stage1.global_batch", po::value<std::int64_t>()->default_value(256),
          "examples per optimizer step")("stage1.micro_batch", po::value<std::int64_t>()->default_value(16),
                                         "examples per forward pass")(
          "stage1.epochs", po::value<std::int64_t>()->default_value(1), "passes over the captions")(
          "stage1.max_samples", po::value<std::int64_t>()->default_value(0), "captions used (0: all)")(
          "stage1.max_length", po::value<std::int64_t>()->default_value(2048),
          "tokens a caption may take with its visual tokens (also bounded by the LLM's context); longer: "
          "left out")("stage1.warmup_ratio", po::value<double>()->default_value(0.03, "0.03"),
                      "warmup share of the steps")(
          "stage1.weight_decay", po::value<double>()->default_value(0.0, "0"), "AdamW weight decay")(
          "stage1.max_grad_norm", po::value<double>()->default_value(0.0, "0"),
          "gradient clipping (0: none)")(
          "stage1.activation_checkpointing", po::value<bool>()->default_value(false),
          "keep only each decoder layer's input and recompute the layer in the backward pass")(
          "stage1.loader_threads", po::value<std::int64_t>(), kLoaderThreadsHelp)(
          "stage1.data_parallel", po::value<bool>()->default_value(false),
          "train each projector data-parallel over a worker group (score tasks then run on groups)")
      // [a_score]
      ("a_score.n", po::value<std::int64_t>()->default_value(100),
       "held-out caption pairs (drawn with the seed)")(
          "a_score.batch", po::value<std::int64_t>()->default_value(8), "captions per forward pass")(
          "a_score.references", po::value<std::string>()->default_value(""),
          "comma-separated settings for the A_similarity variant of the paper's code; empty: off")
      // [c_score]
      ("c_score.root", po::value<std::string>(), "SPair-71k folder (PairAnnotation/, JPEGImages/)")(
          "c_score.split", po::value<std::string>()->default_value("test"), "trn, val or test")(
          "c_score.alpha", po::value<double>()->default_value(0.1, "0.1"),
          "PCK threshold, times the box's larger side")(
          "c_score.max_pairs", po::value<std::int64_t>()->default_value(0), "pairs used (0: all)")(
          "c_score.upsample", po::value<bool>()->default_value(false),
          "match on features upsampled to the input's pixels")
      // [finetune], [stage2]; [benchmarks]: NAME = KIND:PATH lines (benchmarks.hpp's kinds)
      ("finetune.settings", po::value<std::string>(),
       "settings to finetune: comma-separated, all, or policy (region-based sampling of [job] budget)")(
          "finetune.answers", po::value<std::string>()->default_value("likelihood"),
          "multiple choice and yes/no: likelihood (the likeliest option) or generate (greedy generation, "
          "then parsed: lmms-eval's protocol); vqa always generates")(
          "finetune.max_new_tokens", po::value<std::int64_t>()->default_value(128),
          "the longest generated answer, in tokens")("finetune.generation_batch",
                                                     po::value<std::int64_t>()->default_value(8),
                                                     "benchmark items generated together (left-padded)")(
          "stage2.data", po::value<std::string>(), "LLaVA JSON of conversations")(
          "stage2.images", po::value<std::string>(), "the image folder")(
          "stage2.lr", po::value<double>()->default_value(2e-5, "2e-5"), "peak learning rate")(
          "stage2.global_batch", po::value<std::int64_t>()->default_value(128),
          "examples per optimizer step")("stage2.micro_batch", po::value<std::int64_t>()->default_value(4),
                                         "examples per forward pass and rank")(
          "stage2.epochs", po::value<std::int64_t>()->default_value(1), "passes over the conversations")(
          "stage2.max_length", po::value<std::int64_t>()->default_value(2048),
          "tokens a conversation may take with its visual tokens (also bounded by the LLM's context)")(
          "stage2.warmup_ratio", po::value<double>()->default_value(0.03, "0.03"),
          "warmup share of the steps")("stage2.weight_decay", po::value<double>()->default_value(0.0, "0"),
                                       "AdamW weight decay")("stage2.max_grad_norm",
                                                             po::value<double>()->default_value(0.0, "0"),
                                                             "gradient clipping (0: none)")(
          "stage2.peak_tflops", po::value<double>()->default_value(0.0, "0"),
          "the device's peak TFLOP/s at the training precision (e.g. 989 for an H100 or H200 in bf16): "
          "progress lines then print MFU")(
          "stage2.overlap_reduction", po::value<bool>()->default_value(false),
          "MPI (CPU) groups: sum each gradient bucket during the backward (MPI_Iallreduce); off: after it")(
          "stage2.loader_threads", po::value<std::int64_t>(), kLoaderThreadsHelp)(
          "stage2.activation_checkpointing", po::value<bool>()->default_value(false),
          "keep only each decoder layer's input and recompute the layer in the backward pass: saved "
          "activations fall to about 1/layers for one more forward pass per step")(
          "stage2.checkpoint_every", po::value<std::int64_t>()->default_value(0),
          "optimizer steps between checkpoints (0: none); a rerun resumes from the newest")(
          "stage2.save_model", po::value<bool>()->default_value(true),
          "write each finetuned model as a LLaVA folder (sharded safetensors, index, config, tokenizer) to "
          "<output>/stage2/<hash>/llava-<setting>")(
          "stage2.keep_checkpoints", po::value<std::int64_t>()->default_value(2),
          "the newest complete checkpoints kept, older ones removed (0: keep all)")(
          "stage2.shard", po::value<std::string>()->default_value("auto"),
          "auto | none | optimizer | gradients | parameters: what of the training state is sharded over "
          "the worker group (optimizer: the AdamW moments and master weights; gradients: those and the "
          "gradients; parameters: those and the decoder layers' weights, each gathered while its layer "
          "runs); auto: the lowest level whose memory plan fits the device (none where the device memory "
          "is not known)")(
          "stage2.param_dtype", po::value<std::string>()->default_value("auto"),
          "auto | bf16 | fp32: the weights the LLM and projector compute with; bf16 trains over float32 "
          "master shards and needs a sharded optimizer; auto: bf16 on CUDA when the optimizer is sharded")
      // [known]: results measured before; such settings count as finetuned
      ("known.table", po::value<std::string>(),
       "CSV of benchmark results measured before: a setting column and [benchmarks] names as columns")(
          "known.lmms_eval", po::value<std::string>(),
          "lmms-eval results JSON per setting: SETTING:PATH separated by ';'")(
          "known.lmms_eval_metrics", po::value<std::string>(),
          "the lmms-eval number of each benchmark: BENCHMARK:task/metric,filter[*SCALE] separated by ';'");
  return d;
}

std::string trim(const std::string& text) {
  const auto b = text.find_first_not_of(" \t"), e = text.find_last_not_of(" \t");
  return b == std::string::npos ? "" : text.substr(b, e - b + 1);
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(trim(item));
  return out;
}

// "a; b ;c" -> {"a", "b", "c"}: items separated by ';', trimmed, empty ones dropped.
std::vector<std::string> split_semicolons(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ';');)
    if (!trim(item).empty()) out.push_back(trim(item));
  return out;
}

template <class T>
T value_of(const po::variables_map& vm, const std::string& key) {
  return vm[key].as<T>();
}

// The scoring sections; every key checked, every file and folder found, before any work.
ScoringSection read_scoring(const po::variables_map& vm, const std::string& path,
                            const std::function<std::string(const std::string&)>& resolve,
                            std::map<std::string, std::string>& encoders,
                            const std::map<std::string, std::string>& benchmarks,
                            std::vector<std::string>* missing) {
  auto require = [&](bool ok, const std::string& key, const std::string& why) {
    if (!ok) throw InputError(where(path, key) + ": " + why);
  };
  // [stage1|stage2] loader_threads: 0 to 256, or -1 where the key is left out (the rank's CPUs).
  const auto loader_threads = [&](const std::string& key) {
    if (!vm.count(key)) return std::int64_t{-1};
    const auto threads = value_of<std::int64_t>(vm, key);
    require(threads >= 0 && threads <= 256, key, "must be 0 to 256");
    return threads;
  };
  // A file or folder the job names: an error, or (planning only) a note in `missing`.
  const auto located = [&](bool ok, const std::string& key, const std::string& why) {
    if (!ok && missing)
      missing->push_back(where(path, key) + ": " + why);
    else
      require(ok, key, why);
  };
  const auto existing = [&](const std::string& key, bool folder) {
    require(vm.count(key) && !value_of<std::string>(vm, key).empty(), key, "missing");
    const std::string p = resolve(value_of<std::string>(vm, key));
    located(folder ? is_folder(p) : is_file(p), key,
            std::string("no such ") + (folder ? "folder: " : "file: ") + p);
    return p;
  };
  ScoringSection s;
  s.llm.folder = existing("llm.folder", true);
  if (vm.count("llm.tokenizer")) {
    s.llm.tokenizer = existing("llm.tokenizer", false);
  } else {  // tokenizer.model first, as LLaVA loads Vicuna's (use_fast=False)
    s.llm.tokenizer = s.llm.folder + "/tokenizer.model";
    if (!is_file(s.llm.tokenizer)) s.llm.tokenizer = s.llm.folder + "/tokenizer.json";
    located(is_file(s.llm.tokenizer), "llm.tokenizer",
            "no tokenizer.model or tokenizer.json in " + s.llm.folder);
  }
  s.llm.autocast = value_of<std::string>(vm, "llm.autocast");
  s.llm.chat_template = value_of<std::string>(vm, "llm.template");
  require(s.llm.chat_template == "vicuna_v1" || s.llm.chat_template == "qwen_2", "llm.template",
          "must be vicuna_v1 or qwen_2, not '" + s.llm.chat_template + "'");
  require(s.llm.autocast == "auto" || s.llm.autocast == "bf16" || s.llm.autocast == "off", "llm.autocast",
          "must be auto, bf16 or off, not '" + s.llm.autocast + "'");

  for (auto& [name, folder] : encoders) {
    require(!name.empty() && name.find_first_of("+;@ ") == std::string::npos, "encoders." + name,
            "an encoder name may not hold '+', ';', '@' or spaces");
    folder = resolve(folder);
    located(is_folder(folder), "encoders." + name, "no such folder: " + folder);
  }
  std::vector<int> resolutions;
  const std::string resolution_text = value_of<std::string>(vm, "search.resolutions");
  if (resolution_text == "native") {
    resolutions.push_back(0);
  } else {
    for (const auto& item : split_commas(resolution_text)) {
      int value = 0;
      try {
        value = std::stoi(item);
      } catch (const std::exception&) {
      }
      require(value > 0 && item.find_first_not_of("0123456789") == std::string::npos, "search.resolutions",
              "'" + item + "' is not a positive whole number");
      resolutions.push_back(value);
    }
  }
  std::set<std::string> names;
  for (const auto& written : split_semicolons(value_of<std::string>(vm, "search.settings"))) {
    // "a+b@768": this setting at its own input side, whatever search.resolutions says.
    std::string item = written;
    std::vector<int> own;
    if (const auto at = written.find('@'); at != std::string::npos) {
      item = written.substr(0, at);
      const std::string side = written.substr(at + 1);
      int value = 0;
      if (!side.empty() && side.size() <= 5 && side.find_first_not_of("0123456789") == std::string::npos)
        value = std::stoi(side);
      require(value > 0, "search.settings",
              "'" + written + "': after '@' comes the setting's input side, a positive whole number");
      own.push_back(value);
    }
    SettingSpec base;
    std::stringstream members(item);
    for (std::string encoder; std::getline(members, encoder, '+');) {
      const auto found = encoders.find(encoder);
      require(found != encoders.end(), "search.settings",
              "'" + encoder + "' in '" + item + "' is not an [encoders] name");
      base.encoders.push_back(encoder);
      base.folders.push_back(found->second);
    }
    for (const int r : own.empty() ? resolutions : own) {
      SettingSpec setting = base;
      setting.resolution = r;
      setting.name = item + (r > 0 ? "@" + std::to_string(r) : "");
      require(names.insert(setting.name).second, "search.settings", "'" + setting.name + "' twice");
      s.search.settings.push_back(setting);
    }
  }
  require(!s.search.settings.empty(), "search.settings", "no setting");
  s.search.layer = value_of<int>(vm, "search.layer");
  const std::string aspect = value_of<std::string>(vm, "search.image_aspect_ratio");
  require(aspect == "crop" || aspect == "pad", "search.image_aspect_ratio",
          "must be crop or pad, not '" + aspect + "'");
  s.search.pad_to_square = aspect == "pad";
  s.search.diffusion_block = value_of<int>(vm, "search.diffusion_block");
  require(s.search.diffusion_block >= -1, "search.diffusion_block",
          "must be -1 (the paper's) or a block's index");
  s.search.dit_null_class = value_of<bool>(vm, "search.dit_null_class");

  s.stage1.data = existing("stage1.data", false);
  s.stage1.images = existing("stage1.images", true);
  s.stage1.learning_rate = value_of<double>(vm, "stage1.lr");
  require(s.stage1.learning_rate > 0, "stage1.lr", "must be positive");
  s.stage1.global_batch = value_of<std::int64_t>(vm, "stage1.global_batch");
  s.stage1.micro_batch = value_of<std::int64_t>(vm, "stage1.micro_batch");
  require(s.stage1.micro_batch >= 1, "stage1.micro_batch", "must be at least 1");
  require(s.stage1.global_batch >= s.stage1.micro_batch, "stage1.global_batch",
          "must be at least micro_batch");
  s.stage1.epochs = value_of<std::int64_t>(vm, "stage1.epochs");
  // The results keep the loss of every step, allocated when a segment is created: an epoch count
  // that no run could finish would fill the disk before the first step.
  require(s.stage1.epochs >= 1 && s.stage1.epochs <= kMaxEpochs, "stage1.epochs",
          "must be from 1 to " + std::to_string(kMaxEpochs));
  s.stage1.max_length = value_of<std::int64_t>(vm, "stage1.max_length");
  s.stage1.activation_checkpointing = value_of<bool>(vm, "stage1.activation_checkpointing");
  s.stage1.loader_threads = loader_threads("stage1.loader_threads");
  require(s.stage1.max_length >= 1, "stage1.max_length", "must be at least 1");
  s.stage1.max_samples = value_of<std::int64_t>(vm, "stage1.max_samples");
  require(s.stage1.max_samples >= 0, "stage1.max_samples", "must not be negative");
  s.stage1.warmup_ratio = value_of<double>(vm, "stage1.warmup_ratio");
  require(s.stage1.warmup_ratio >= 0 && s.stage1.warmup_ratio < 1, "stage1.warmup_ratio",
          "must be in [0, 1)");
  s.stage1.weight_decay = value_of<double>(vm, "stage1.weight_decay");
  s.stage1.max_grad_norm = value_of<double>(vm, "stage1.max_grad_norm");
  s.stage1.data_parallel = value_of<bool>(vm, "stage1.data_parallel");

  s.a_score.n = value_of<std::int64_t>(vm, "a_score.n");
  require(s.a_score.n >= 1, "a_score.n", "must be at least 1");
  s.a_score.batch = value_of<std::int64_t>(vm, "a_score.batch");
  require(s.a_score.batch >= 1, "a_score.batch", "must be at least 1");
  for (const auto& reference : split_commas(value_of<std::string>(vm, "a_score.references"))) {
    if (reference.empty()) continue;
    require(names.count(reference) > 0, "a_score.references",
            "'" + reference + "' is not one of the settings");
    s.a_score.references.push_back(reference);
  }

  s.c_score.root = existing("c_score.root", true);
  s.c_score.split = value_of<std::string>(vm, "c_score.split");
  located(is_folder(s.c_score.root + "/PairAnnotation/" + s.c_score.split), "c_score.split",
          "no folder " + s.c_score.root + "/PairAnnotation/" + s.c_score.split);
  s.c_score.alpha = value_of<double>(vm, "c_score.alpha");
  require(s.c_score.alpha > 0, "c_score.alpha", "must be positive");
  s.c_score.max_pairs = value_of<std::int64_t>(vm, "c_score.max_pairs");
  require(s.c_score.max_pairs >= 0, "c_score.max_pairs", "must not be negative");
  s.c_score.upsample = value_of<bool>(vm, "c_score.upsample");

  if (!vm.count("finetune.settings")) {
    require(benchmarks.empty(), "benchmarks", "benchmarks need [finetune] settings");
    for (const auto* key : {"known.table", "known.lmms_eval", "known.lmms_eval_metrics"})
      require(!vm.count(key), key, "known results need [finetune] settings");
    require(!vm.count("job.budget"), "job.budget", "a budget needs [finetune] settings = policy");
    return s;
  }
  FinetuneSection& f = s.finetune.emplace();
  const std::string chosen = value_of<std::string>(vm, "finetune.settings");
  f.policy = chosen == "policy";
  f.validate = value_of<bool>(vm, "job.validate");
  if (f.policy) {
    require(vm.count("job.budget"), "job.budget", "missing: finetune.settings = policy needs a budget");
    const auto budget = value_of<std::int64_t>(vm, "job.budget");
    require(budget >= 1 && static_cast<std::size_t>(budget) <= s.search.settings.size(), "job.budget",
            "must be in 1.." + std::to_string(s.search.settings.size()) + " (the settings), not " +
                std::to_string(budget));
    f.budget = static_cast<std::size_t>(budget);
    f.sampler = value_of<std::string>(vm, "job.sampler");
    require(f.sampler == "region" || f.sampler == "sequential" || f.sampler == "random", "job.sampler",
            "must be region, sequential or random, not '" + f.sampler + "'");
  } else {
    require(!vm.count("job.budget"), "job.budget", "a budget needs [finetune] settings = policy");
    require(vm["job.sampler"].defaulted(), "job.sampler", "a sampler needs [finetune] settings = policy");
    require(!f.validate, "job.validate", "validation judges the policy: needs finetune.settings = policy");
  }
  std::vector<std::string> every;  // "all" and "policy": in [search] order
  for (const auto& setting : s.search.settings) every.push_back(setting.name);
  for (const auto& name : chosen == "all" || f.policy ? every : split_commas(chosen)) {
    require(names.count(name) > 0, "finetune.settings", "'" + name + "' is not one of the settings");
    f.settings.push_back(name);
  }
  f.answers = value_of<std::string>(vm, "finetune.answers");
  require(f.answers == "likelihood" || f.answers == "generate", "finetune.answers",
          "must be likelihood or generate ('" + f.answers + "')");
  f.max_new_tokens = value_of<std::int64_t>(vm, "finetune.max_new_tokens");
  require(f.max_new_tokens >= 1, "finetune.max_new_tokens", "must be at least 1");
  f.generation_batch = value_of<std::int64_t>(vm, "finetune.generation_batch");
  require(f.generation_batch >= 1, "finetune.generation_batch", "must be at least 1");
  Stage2Section& t = f.stage2;
  t.data = existing("stage2.data", false);
  t.images = existing("stage2.images", true);
  t.learning_rate = value_of<double>(vm, "stage2.lr");
  require(t.learning_rate > 0, "stage2.lr", "must be positive");
  t.global_batch = value_of<std::int64_t>(vm, "stage2.global_batch");
  t.micro_batch = value_of<std::int64_t>(vm, "stage2.micro_batch");
  require(t.micro_batch >= 1, "stage2.micro_batch", "must be at least 1");
  require(t.global_batch >= t.micro_batch, "stage2.global_batch", "must be at least micro_batch");
  t.max_length = value_of<std::int64_t>(vm, "stage2.max_length");
  require(t.max_length >= 1, "stage2.max_length", "must be at least 1");
  t.epochs = value_of<std::int64_t>(vm, "stage2.epochs");
  require(t.epochs >= 1 && t.epochs <= kMaxEpochs, "stage2.epochs",
          "must be from 1 to " + std::to_string(kMaxEpochs));
  t.warmup_ratio = value_of<double>(vm, "stage2.warmup_ratio");
  require(t.warmup_ratio >= 0 && t.warmup_ratio < 1, "stage2.warmup_ratio", "must be in [0, 1)");
  t.weight_decay = value_of<double>(vm, "stage2.weight_decay");
  t.max_grad_norm = value_of<double>(vm, "stage2.max_grad_norm");
  t.overlap_reduction = value_of<bool>(vm, "stage2.overlap_reduction");
  t.activation_checkpointing = value_of<bool>(vm, "stage2.activation_checkpointing");
  t.loader_threads = loader_threads("stage2.loader_threads");
  t.peak_tflops = value_of<double>(vm, "stage2.peak_tflops");
  require(t.peak_tflops >= 0 && std::isfinite(t.peak_tflops), "stage2.peak_tflops", "must not be negative");
  t.checkpoint_every = value_of<std::int64_t>(vm, "stage2.checkpoint_every");
  require(t.checkpoint_every >= 0, "stage2.checkpoint_every", "must not be negative");
  t.save_model = value_of<bool>(vm, "stage2.save_model");
  t.keep_checkpoints = value_of<std::int64_t>(vm, "stage2.keep_checkpoints");
  require(t.keep_checkpoints >= 0, "stage2.keep_checkpoints", "must not be negative");
  t.shard = value_of<std::string>(vm, "stage2.shard");
  require(t.shard == "auto" || t.shard == "none" || t.shard == "optimizer" || t.shard == "gradients" ||
              t.shard == "parameters",
          "stage2.shard", "must be auto, none, optimizer, gradients or parameters ('" + t.shard + "')");
  t.param_dtype = value_of<std::string>(vm, "stage2.param_dtype");
  require(t.param_dtype == "auto" || t.param_dtype == "bf16" || t.param_dtype == "fp32", "stage2.param_dtype",
          "must be auto, bf16 or fp32 ('" + t.param_dtype + "')");
  require(t.param_dtype != "bf16" || t.shard != "none", "stage2.param_dtype",
          "bf16 trains over float32 master weights, which only a sharded optimizer keeps: set [stage2] shard "
          "to optimizer, gradients, parameters or auto");
  require(!benchmarks.empty(), "benchmarks", "missing: a finetuned setting is judged on [benchmarks]");
  for (const auto& [name, spec] : benchmarks) {
    const auto colon = spec.find(':');
    const std::string kind = spec.substr(0, colon);
    // The kinds of eval/benchmarks.hpp (mme is read from its release folder).
    static const std::set<std::string> kKinds{"multiple_choice", "yes_no",    "vqa",     "mme",
                                              "seedbench",       "scienceqa", "mmbench", "mmmu"};
    require(colon != std::string::npos && kKinds.count(kind) > 0, "benchmarks." + name,
            "must be KIND:PATH with KIND multiple_choice, yes_no, vqa, mme, seedbench, scienceqa, mmbench or "
            "mmmu, not '" +
                spec + "'");
    const std::string file = resolve(spec.substr(colon + 1));
    if (kind == "mme")
      located(is_folder(file), "benchmarks." + name, "no such folder: " + file);
    else
      located(is_file(file), "benchmarks." + name, "no such file: " + file);
    f.benchmarks.push_back({name, kind, file});
  }

  KnownSection& k = f.known;
  k.job_path = path;
  if (vm.count("known.table")) k.table = existing("known.table", false);
  if (vm.count("known.lmms_eval")) {
    for (const auto& item : split_semicolons(value_of<std::string>(vm, "known.lmms_eval"))) {
      const auto colon = item.find(':');
      require(colon != std::string::npos, "known.lmms_eval", "'" + item + "' is not SETTING:PATH");
      const std::string setting = trim(item.substr(0, colon)), file = resolve(trim(item.substr(colon + 1)));
      require(names.count(setting) > 0, "known.lmms_eval", "'" + setting + "' is not one of the settings");
      located(is_file(file), "known.lmms_eval", "no such file: " + file);
      k.lmms_eval.emplace_back(setting, file);
    }
  }
  if (vm.count("known.lmms_eval_metrics")) {
    for (const auto& item : split_semicolons(value_of<std::string>(vm, "known.lmms_eval_metrics"))) {
      const auto colon = item.find(':'), star = item.rfind('*');
      require(colon != std::string::npos && colon + 1 < item.size(), "known.lmms_eval_metrics",
              "'" + item + "' is not BENCHMARK:task/metric,filter[*SCALE]");
      LmmsMetric metric{trim(item.substr(0, colon)), trim(item.substr(colon + 1)), 1.0};
      require(benchmarks.count(metric.benchmark) > 0, "known.lmms_eval_metrics",
              "'" + metric.benchmark + "' is not one of the [benchmarks]");
      if (star != std::string::npos && star > colon) {
        metric.key = trim(item.substr(colon + 1, star - colon - 1));
        std::size_t used = 0;
        try {
          metric.scale = std::stod(item.substr(star + 1), &used);
        } catch (const std::exception&) {
        }
        require(
            used > 0 && used == item.size() - star - 1 && std::isfinite(metric.scale) && metric.scale != 0,
            "known.lmms_eval_metrics", "'" + item.substr(star + 1) + "' in '" + item + "' is not a scale");
      }
      k.metrics.push_back(metric);
    }
  }
  require(k.lmms_eval.empty() || !k.metrics.empty(), "known.lmms_eval_metrics",
          "missing: which lmms-eval number is each benchmark");
  require(k.metrics.empty() || !k.lmms_eval.empty(), "known.lmms_eval", "missing: metrics given, no results");
  return s;
}

}  // namespace

JobSpec read_job(const std::string& path, const std::vector<std::string>& overrides, bool need_inputs) {
  JobSpec job;
  job.text = read_bounded(path, kMaxConfigBytes, "the job file");
  job.path = fs::absolute(path).lexically_normal().string();
  const fs::path base = fs::path(job.path).parent_path();
  auto resolve = [&](const std::string& p) { return (base / p).lexically_normal().string(); };

  const po::options_description keys = schema();
  po::variables_map vm;
  try {
    // Overrides first: po::store keeps the first value it sees for a key.
    std::vector<std::string> args;
    std::map<std::string, std::size_t> position;  // a key set twice: the last --set wins
    for (const auto& set : overrides) {
      const auto eq = set.find('=');
      if (eq == std::string::npos || eq == 0)
        throw InputError("--set '" + set + "': expected section.key=value");
      const auto [it, fresh] = position.emplace(set.substr(0, eq), args.size());
      if (fresh)
        args.push_back("--" + set);
      else
        args[it->second] = "--" + set;
      job.text += "\n# --set " + set;
    }
    // [encoders] holds NAME = FOLDER with names of the job's choosing: the only free-form keys.
    const auto take_encoders = [&](const po::parsed_options& parsed) {
      for (const auto& option : parsed.options) {
        if (!option.unregistered) continue;
        std::string key = option.string_key;
        if (key.rfind("--", 0) == 0) key = key.substr(2);
        if (option.value.size() == 1 && key.rfind("encoders.", 0) == 0)
          job.encoders.emplace(key.substr(9), option.value.front());  // the first seen (a --set) wins
        else if (option.value.size() == 1 && key.rfind("benchmarks.", 0) == 0)
          job.benchmarks.emplace(key.substr(11), option.value.front());
        else
          throw po::unknown_option(key.substr(0, key.find('=')));
      }
    };
    const auto command_line = po::command_line_parser(args).options(keys).allow_unregistered().run();
    take_encoders(command_line);
    po::store(command_line, vm);
    std::istringstream file_text(job.text);
    const auto file_options = po::parse_config_file(file_text, keys, true);
    take_encoders(file_options);
    po::store(file_options, vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    std::string key = e.get_option_name();
    if (key.rfind("--", 0) == 0) key = key.substr(2);
    key = key.substr(0, key.find('='));  // a --set override comes with its value attached
    throw InputError(where(path, key) + ": unknown key (acsweep run --help lists the keys)");
  } catch (const po::invalid_option_value& e) {
    std::string key = e.get_option_name();
    if (key.rfind("--", 0) == 0) key = key.substr(2);
    throw InputError(where(path, key) + ": " + option_error_text(e));
  } catch (const po::error& e) {
    throw InputError(path + ": " + option_error_text(e));
  }

  auto require = [&](bool ok, const std::string& key, const std::string& why) {
    if (!ok) throw InputError(where(path, key) + ": " + why);
  };
  require(vm.count("job.name") && !value_of<std::string>(vm, "job.name").empty(), "job.name",
          "missing: every job needs a name");
  job.name = value_of<std::string>(vm, "job.name");
  job.output = resolve(value_of<std::string>(vm, "job.output"));
  const auto seed = value_of<std::int64_t>(vm, "job.seed");
  require(seed >= 0, "job.seed", "must not be negative");
  job.seed = static_cast<std::uint64_t>(seed);
  job.max_attempts = value_of<int>(vm, "job.max_attempts");
  require(job.max_attempts >= 1, "job.max_attempts", "must be at least 1");
  job.max_bad_fraction = value_of<double>(vm, "job.max_bad_fraction");
  require(job.max_bad_fraction >= 0 && job.max_bad_fraction <= 1, "job.max_bad_fraction",
          "must be between 0 and 1");

  job.device_memory_gib = value_of<double>(vm, "layout.device_memory_gib");
  require(job.device_memory_gib >= 0 && std::isfinite(job.device_memory_gib), "layout.device_memory_gib",
          "must not be negative");
  if (vm.count("layout.groups") || vm.count("layout.group_size")) {
    require(vm.count("layout.groups") && vm.count("layout.group_size"), "layout",
            "give both groups and group_size, or neither for the default");
    job.layout = Layout{value_of<int>(vm, "layout.groups"), value_of<int>(vm, "layout.group_size")};
    require(job.layout->groups >= 0, "layout.groups", "must not be negative");
    require(job.layout->group_size >= 1, "layout.group_size", "must be at least 1");
  }

  const bool simulation = vm.count("simulation.tables") > 0, scoring = vm.count("search.settings") > 0;
  require(simulation != scoring, simulation ? "search.settings" : "simulation.tables",
          simulation ? "a job is a policy simulation ([simulation]) or a scoring sweep ([search]), not both"
                     : "missing: a job needs [simulation] tables or [search] settings");
  if (scoring) {
    job.scoring =
        read_scoring(vm, path, resolve, job.encoders, job.benchmarks, need_inputs ? nullptr : &job.missing);
    job.scoring->search.noise_seed = job.seed;
    return job;
  }
  require(!vm.count("job.budget"), "job.budget", "a policy simulation takes its budgets from [simulation]");
  SimulationSection& sim = job.simulation.emplace();
  for (const auto& table : split_commas(value_of<std::string>(vm, "simulation.tables"))) {
    require(!table.empty(), "simulation.tables", "empty name in the list");
    const std::string resolved = resolve(table);
    require(is_file(resolved), "simulation.tables", "no such file: " + resolved);
    sim.tables.push_back(resolved);
  }
  sim.budgets = value_of<std::string>(vm, "simulation.budgets");
  sim.runs = value_of<std::int64_t>(vm, "simulation.runs");
  require(sim.runs >= 1, "simulation.runs", "must be at least 1");
  sim.runs_per_task = value_of<std::int64_t>(vm, "simulation.runs_per_task");
  require(sim.runs_per_task >= 1, "simulation.runs_per_task", "must be at least 1");
  sim.samplers = value_of<std::string>(vm, "simulation.samplers");
  require(sim.samplers == "region" || sim.samplers == "random" || sim.samplers == "sequential" ||
              sim.samplers == "both" || sim.samplers == "all",
          "simulation.samplers",
          "must be region, random, sequential, both or all, not '" + sim.samplers + "'");
  sim.fit = value_of<std::string>(vm, "simulation.fit");
  require(sim.fit == "ols" || sim.fit == "ridge", "simulation.fit",
          "must be ols or ridge, not '" + sim.fit + "'");
  sim.counting = value_of<std::string>(vm, "simulation.counting");
  require(sim.counting == "exact" || sim.counting == "first-hit" || sim.counting == "both",
          "simulation.counting", "must be exact, first-hit or both, not '" + sim.counting + "'");
  return job;
}

std::string job_keys_help() {
  std::ostringstream out;
  out << schema();
  return out.str();
}

}  // namespace acsweep::runtime
