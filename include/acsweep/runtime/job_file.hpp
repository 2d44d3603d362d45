#pragma once
// Job files: INI read with Boost.Program_options (shared/spec/ARCHITECTURE.md, "Job file").
// Every key is declared once in a schema with its type and default; every key can also be set on
// the command line as `--set section.key=value`, which wins over the file. Unknown keys, wrong
// types, missing files and impossible values are InputErrors naming the file, section and key,
// raised before any rank starts work. Relative paths are relative to the job file's folder.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace acsweep::runtime {

struct Layout {
  int groups = 0;      // worker groups
  int group_size = 1;  // ranks per worker group
};

struct SimulationSection {
  std::vector<std::string> tables;  // absolute paths
  std::string budgets = "all";      // "all" or a comma list
  std::int64_t runs = 1000;
  std::int64_t runs_per_task = 100;
  std::string samplers = "both";
  std::string counting = "exact";  // first-hit (law/policy_simulation.hpp), or both
  std::string fit = "ols";         // or ridge (law/fit.hpp)
};

// The scoring phase (shared/spec/LAW.md, A and C): which settings, and how each is scored.
struct LlmSection {
  std::string folder;             // HF folder: config.json, safetensors, tokenizer.model or .json
  std::string tokenizer;          // default <folder>/tokenizer.model, else <folder>/tokenizer.json
  std::string autocast = "auto";  // training forward passes: auto (bf16 on CUDA), bf16 or off
  std::string chat_template =
      "vicuna_v1";  // Stage 2 and the benchmarks: vicuna_v1 or qwen_2 (data/llava.hpp)
};

struct SettingSpec {
  std::string name;                   // encoder names joined by '+', then "@resolution" when set
  std::vector<std::string> encoders;  // names of [encoders] keys, in order
  std::vector<std::string> folders;   // their folders
  int resolution = 0;                 // 0: each checkpoint's own
};

struct SearchSection {
  std::vector<SettingSpec> settings;
  int layer = -2;                // hidden state of native towers
  bool pad_to_square = false;    // image_aspect_ratio = pad (LLaVA) or crop
  int diffusion_block = -1;      // diffusers pipelines: the U-Net up block or DiT block (-1: the paper's)
  std::uint64_t noise_seed = 0;  // the job's seed: the diffusion features' noise, with each image's pixels
  bool dit_null_class = false;   // DiT conditioned on the null class (false: the timestep alone, the paper's)
};

struct Stage1Section {
  std::string data, images;  // LLaVA JSON (plain captions) and its image folder
  double learning_rate = 1e-3;
  std::int64_t global_batch = 256, micro_batch = 16, epochs = 1, max_samples = 0;
  std::int64_t max_length = 2048;  // LLaVA's model_max_length: longer captions are left out, counted
  double warmup_ratio = 0.03, weight_decay = 0.0, max_grad_norm = 0.0;
  // Train each projector data-parallel over a worker group: the score tasks are whole-group
  // tasks (spare ranks have none to take), and a finetune that trains its projector uses its group.
  bool data_parallel = false;
  bool activation_checkpointing = false;  // recompute each decoder layer in the backward pass
  std::int64_t loader_threads = -1;       // threads preparing images ahead (-1: the rank's CPUs)
};

struct AScoreSection {
  std::int64_t n = 100;  // held-out pairs drawn from the Stage-1 captions with the job's seed
  std::int64_t batch = 8;
  std::vector<std::string> references;  // settings for the A_similarity variant; empty: not computed
};

struct CScoreSection {
  std::string root;  // SPair-71k as downloaded
  std::string split = "test";
  double alpha = 0.1;
  std::int64_t max_pairs = 0;
  bool upsample = false;
};

// Stage 2 and benchmarks for the settings a job finetunes.
struct Stage2Section {
  std::string data, images;  // LLaVA JSON conversations (vicuna_v1) and their image folder
  double learning_rate = 2e-5;
  std::int64_t global_batch = 128, micro_batch = 4, epochs = 1, checkpoint_every = 0, keep_checkpoints = 2;
  std::string shard = "auto";  // auto | none | optimizer | gradients | parameters (sweep/memory_plan.hpp)
  std::string param_dtype = "auto";  // auto | bf16 | fp32 (bf16 on CUDA when sharded)
  std::int64_t max_length = 2048;    // LLaVA's model_max_length: longer conversations are left out, counted
  double warmup_ratio = 0.03, weight_decay = 0.0, max_grad_norm = 0.0;
  double peak_tflops = 0.0;               // the device's peak, for MFU in the progress lines (0: not known)
  bool overlap_reduction = false;         // MPI: start each gradient bucket's sum during the backward
  bool activation_checkpointing = false;  // recompute each decoder layer in the backward pass
  bool save_model = true;                 // the finetuned model as a LLaVA folder
  std::int64_t loader_threads = -1;       // threads preparing images ahead (-1: the rank's CPUs)
};

struct BenchmarkSpec {
  std::string name;
  std::string kind;  // multiple_choice, yes_no (JSONL; images relative to its folder) or vqa (as shipped)
  std::string path;
};

// Benchmark results measured before (ARCHITECTURE.md, [known]): such a setting counts as
// finetuned; it is scored but not finetuned again.
struct LmmsMetric {
  std::string benchmark;  // a [benchmarks] name
  std::string key;        // "task/metric,filter" in the lmms-eval results
  double scale = 1.0;     // multiplies the value (e.g. 100 for a fraction into a percentage)
};

struct KnownSection {
  std::string table;                                           // CSV: setting, one column per benchmark
  std::vector<std::pair<std::string, std::string>> lmms_eval;  // (setting, results JSON)
  std::vector<LmmsMetric> metrics;                             // which number is each benchmark
  std::string job_path;  // the job file, named in errors about these keys
  bool empty() const { return table.empty() && lmms_eval.empty(); }
};

struct FinetuneSection {
  std::vector<std::string> settings;  // names of [search] settings ("all" and "policy": every one)
  // settings = policy: the AC policy picks [job] budget settings by region-based sampling once
  // every A and C is in; with [job] validate, every setting is finetuned so the policy's pick can
  // be judged against the truth.
  bool policy = false;
  std::size_t budget = 0;
  bool validate = false;
  // [job] sampler: region (all picks at once), sequential (rounds of as many picks as worker
  // groups, each from the fit so far: sweep/policy.hpp) or random.
  std::string sampler = "region";
  Stage2Section stage2;
  std::vector<BenchmarkSpec> benchmarks;
  std::string answers = "likelihood";  // multiple choice and yes/no: likelihood or generate
  std::int64_t max_new_tokens = 128, generation_batch = 8;
  // How a benchmark of this kind is answered: "generated" (greedy generation, then parsed; vqa
  // and mmmu always, for their open questions) or "likelihood" (the likeliest option).
  std::string answering(const std::string& kind) const {
    return kind == "vqa" || kind == "mmmu" || answers == "generate" ? "generated" : "likelihood";
  }
  // The most tokens a benchmark of this kind generates: max_new_tokens, or lmms-eval's task's own
  // smaller limit (16 for mme, scienceqa and mmmu).
  std::int64_t new_tokens(const std::string& kind) const {
    return kind == "mme" || kind == "scienceqa" || kind == "mmmu" ? std::min<std::int64_t>(16, max_new_tokens)
                                                                  : max_new_tokens;
  }
  KnownSection known;
};

struct ScoringSection {
  LlmSection llm;
  SearchSection search;
  Stage1Section stage1;
  AScoreSection a_score;
  CScoreSection c_score;
  std::optional<FinetuneSection> finetune;  // [finetune] settings given
};

struct JobSpec {
  std::string path;  // the job file
  std::string text;  // its text with the --set overrides appended, stored in the results
  std::string name;
  std::string output;  // results directory, absolute
  std::uint64_t seed = 0;
  int max_attempts = 3;  // tries of a failing task before it is recorded as failed
  // The share of a stage's training examples whose image may fail to decode (each skipped, named
  // and counted) before the task fails, saying so.
  double max_bad_fraction = 0.01;
  std::optional<Layout> layout;
  double device_memory_gib = 0;  // [layout] device_memory_gib: what the memory plan must fit (0: CUDA's)
  std::map<std::string, std::string> encoders;    // [encoders] NAME = FOLDER (absolute)
  std::map<std::string, std::string> benchmarks;  // [benchmarks] NAME = KIND:PATH
  std::optional<SimulationSection> simulation;    // a job is a policy simulation ([simulation])
  std::optional<ScoringSection> scoring;          // or a scoring sweep ([search])
  std::vector<std::string> missing;               // inputs not found (read_job with need_inputs false)
};

// Reads and validates `path` with `overrides` ("section.key=value"). Without `need_inputs` (a
// plan for another machine), the scoring job's missing files and folders are listed in
// JobSpec::missing instead of being errors; every other check still applies.
JobSpec read_job(const std::string& path, const std::vector<std::string>& overrides = {},
                 bool need_inputs = true);

// The documented keys, one "section.key  type  default  meaning" line each (acsweep run --help).
std::string job_keys_help();

}  // namespace acsweep::runtime
