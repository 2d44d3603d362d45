// libFuzzer targets for every parser that reads a user's file (docs/FUZZING.md). One binary; the
// target is chosen by the environment variable ACSWEEP_FUZZ_TARGET (tests/fuzz/run.sh runs each
// for a bounded time under AddressSanitizer and UndefinedBehaviorSanitizer).
//
// Each input is written to the file the parser reads (under a private folder), then parsed. Bad
// input must end in acsweep's InputError (or StoreError for a results store): any other exception,
// a crash, a leak or undefined behaviour is a finding, and libFuzzer stops with the input saved.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "acsweep/data/image.hpp"
#include "acsweep/data/llava.hpp"
#include "acsweep/data/preprocessor.hpp"
#include "acsweep/data/spair.hpp"
#include "acsweep/error.hpp"
#include "acsweep/eval/benchmarks.hpp"
#include "acsweep/law/table.hpp"
#include "acsweep/models/diffusion_config.hpp"
#include "acsweep/models/hf_config.hpp"
#include "acsweep/models/safetensors.hpp"
#include "acsweep/models/tokenizer.hpp"
#include "acsweep/runtime/job_file.hpp"
#include "acsweep/store/hdf5.hpp"
#include "acsweep/store/journal.hpp"

namespace fs = std::filesystem;
using namespace acsweep;

namespace {

fs::path g_root;  // this process's folder of inputs

// A target: the file its input is written to (relative to g_root), and the parse of it.
struct Target {
  std::string file;
  std::function<void(const std::string& path)> parse;
};

// Text a tokenizer encodes and decodes once it has loaded.
constexpr const char* kSample = "A red square, 12 caf\xC3\xA9s \xF0\x9F\x98\x80 <|im_end|>\n\t  </s>";

void tokenize(const std::string& path) {
  const models::Tokenizer tokenizer(path);
  const auto ids = tokenizer.encode(kSample);
  (void)tokenizer.decode(ids);
  for (const auto id : ids) (void)tokenizer.piece(id);
}

const std::map<std::string, Target>& targets() {
  static const std::map<std::string, Target> all = {
      {"safetensors",
       {"model/model.safetensors",
        [](const std::string& path) {
          const models::SafetensorsFile file(path);
          for (const auto& name : file.names()) (void)file.tensor(name).to_float();
        }}},
      {"safetensors_index",
       {"index/model.safetensors.index.json",
        [](const std::string& path) {
          const models::SafetensorsFolder folder(fs::path(path).parent_path().string());
          for (const auto& name : folder.names()) (void)folder.tensor(name).to_float();
        }}},
      {"llm_config", {"llm/config.json", [](const std::string& path) { models::read_llama_config(path); }}},
      {"vision_config",
       {"vision/config.json", [](const std::string& path) { models::read_vision_tower_config(path); }}},
      {"diffusers_config",
       {"pipeline/config.json",
        [](const std::string& path) {
          // One config read as every part of a pipeline: a refusal of one kind stops none of the others.
          for (const auto& read : std::vector<std::function<void()>>{
                   [&] { models::read_unet_config(path); }, [&] { models::read_autoencoder_config(path); },
                   [&] { models::read_dit_config(path); }, [&] { models::read_sd3_config(path); },
                   [&] { models::read_noise_schedule_config(path); },
                   [&] { models::read_clip_text_config(path); }}) {
            try {
              read();
            } catch (const InputError&) {
            }
          }
        }}},
      {"preprocessor_config",
       {"vision/preprocessor_config.json",
        [](const std::string& path) { data::read_preprocessor_config(path); }}},
      {"llava_json",
       {"llava/data.json",
        [](const std::string& path) {
          const auto dataset = data::read_llava_json(path, (g_root / "llava" / "images").string());
          for (const auto& example : dataset.examples) {
            (void)data::trained_in_stage2(example);
            (void)data::chat_prompt(data::ChatTemplate::vicuna_v1, data::image_first(example));
            (void)data::chat_prompt(data::ChatTemplate::qwen_2, data::image_first(example));
          }
        }}},
      {"spair_pair",
       {"spair/PairAnnotation/test/pair.json",
        [](const std::string&) { data::read_spair((g_root / "spair").string(), "test"); }}},
      {"benchmark_jsonl",
       {"bench/items.jsonl",
        [](const std::string& path) {
          for (const char* kind : {"multiple_choice", "yes_no"}) {
            const auto b = eval::read_benchmark(path, "", eval::benchmark_kind(kind), "b", false);
            for (const auto& item : b.items) {
              (void)eval::question_prompt(b, item);
              (void)eval::candidate_answers(b, item);
            }
          }
        }}},
      {"mmbench_tsv",
       {"bench/mmbench.tsv", [](const std::string& path) { eval::read_mmbench(path, "m", false); }}},
      {"seedbench_json",
       {"bench/SEED-Bench.json", [](const std::string& path) { eval::read_seedbench(path, "s", false); }}},
      {"scienceqa_json",
       {"scienceqa/problems.json", [](const std::string& path) { eval::read_scienceqa(path, "q", false); }}},
      {"mmmu_jsonl",
       {"bench/mmmu.jsonl", [](const std::string& path) { eval::read_mmmu(path, "u", false); }}},
      {"vqa_json", {"vqa/questions.json", [](const std::string& path) { eval::read_vqa(path, "v", false); }}},
      {"lmms_eval_results",
       {"bench/results.json", [](const std::string& path) { eval::read_lmms_eval(path); }}},
      {"law_csv", {"law/table.csv", [](const std::string& path) { law::read_law_table(path); }}},
      {"job_ini", {"job/job.ini", [](const std::string& path) { runtime::read_job(path); }}},
      {"journal",
       {"journal/rank-00000.jsonl",
        [](const std::string& path) {
          std::vector<store::CorruptRecord> corrupt;
          store::read_journal(path, &corrupt);
        }}},
      {"tokenizer_model", {"tokenizer/tokenizer.model", tokenize}},
      {"tokenizer_json", {"tokenizer/tokenizer.json", tokenize}},
      {"image",
       {"image/image.bin",
        [](const std::string& path) {
          const auto image = data::decode_image(path);
          // Resized only up to 4 megapixels: a 752-byte JPEG may declare 146 (under the limit),
          // and shrinking that under ASan takes longer than the run's per-input timeout.
          if (static_cast<std::uint64_t>(image.width) * image.height <= 4'000'000)
            (void)data::resize(image, 7, 5, data::Resample::bicubic);
        }}},
  };
  return all;
}

const Target* g_target = nullptr;
std::string g_path;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* name = std::getenv("ACSWEEP_FUZZ_TARGET");
  const auto it = name ? targets().find(name) : targets().end();
  if (it == targets().end()) {
    std::fprintf(stderr, "fuzz_parsers: set ACSWEEP_FUZZ_TARGET to one of:");
    for (const auto& [n, t] : targets()) std::fprintf(stderr, " %s", n.c_str());
    std::fprintf(stderr, "\n");
    std::exit(2);
  }
  g_target = &it->second;
  // The same path in every run (not the pid's): a path is part of what the parsers compare and
  // put in messages, and libFuzzer learns from those comparisons, so a run repeats itself only if
  // its paths do. run.sh runs each target once at a time.
  g_root = fs::temp_directory_path() / ("acsweep_fuzz_" + std::string(name));
  fs::remove_all(g_root);
  g_path = (g_root / g_target->file).string();
  fs::create_directories(fs::path(g_path).parent_path());
  fs::create_directories(g_root / "llava" / "images");
  if (std::string(name) == "safetensors_index")  // a shard the index may name
    models::write_safetensors((g_root / "index" / "model-00001-of-00001.safetensors").string(),
                              {{"w", {{2, 2}, {1, 2, 3, 4}, models::DType::F32}}}, {});
  std::atexit([] { fs::remove_all(g_root); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(g_path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    g_target->parse(g_path);
  } catch (const InputError&) {
  } catch (const store::StoreError&) {
  }
  return 0;
}
