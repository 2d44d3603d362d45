// Job files and layouts: every mistake is named by file, section and key before any work.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "acsweep/error.hpp"
#include "acsweep/runtime/job_file.hpp"
#include "acsweep/runtime/world.hpp"
#include "temp_dir.hpp"

namespace acsweep::runtime {
namespace {
namespace fs = std::filesystem;

class JobFileTest : public acsweep::testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    fs::create_directories(dir_ / "data");
    std::ofstream(dir_ / "data" / "t.csv") << "setting,A,C,B\ns1,1,2,3\ns2,2,3,4\n";
  }
  std::string write(const std::string& text) {
    const auto path = (dir_ / "job.ini").string();
    std::ofstream(path) << text;
    return path;
  }
  std::string error_of(const std::string& text, const std::vector<std::string>& sets = {}) {
    const std::string path = write(text);
    try {
      read_job(path, sets);
    } catch (const InputError& e) {
      return e.what();
    }
    return "";
  }
};

const char* kJob = "[job]\nname = demo\nseed = 7\n[simulation]\ntables = data/t.csv\nruns = 50\n";

TEST_F(JobFileTest, ReadsKeysAndResolvesPathsAgainstTheJobFolder) {
  const JobSpec job = read_job(write(kJob));
  EXPECT_EQ(job.name, "demo");
  EXPECT_EQ(job.seed, 7u);
  EXPECT_EQ(job.simulation->runs, 50);
  EXPECT_EQ(job.simulation->runs_per_task, 100);  // default
  ASSERT_EQ(job.simulation->tables.size(), 1u);
  EXPECT_EQ(job.simulation->tables[0], (dir_ / "data" / "t.csv").string());
  EXPECT_EQ(job.output, (dir_ / "results").string());
  EXPECT_FALSE(job.layout.has_value());
}

TEST_F(JobFileTest, SetOverridesTheFile) {
  const JobSpec job = read_job(write(kJob), {"simulation.runs=9", "layout.groups=1", "layout.group_size=2"});
  EXPECT_EQ(job.simulation->runs, 9);
  ASSERT_TRUE(job.layout.has_value());
  EXPECT_EQ(job.layout->group_size, 2);
  EXPECT_NE(job.text.find("# --set simulation.runs=9"), std::string::npos);
  EXPECT_EQ(read_job(write(kJob), {"simulation.runs=9", "simulation.runs=11"}).simulation->runs, 11);
}

TEST_F(JobFileTest, ErrorsNameFileSectionAndKey) {
  const std::string path = (dir_ / "job.ini").string();
  EXPECT_EQ(error_of(std::string(kJob) + "runz = 3\n"),
            path + ": [simulation] runz: unknown key (acsweep run --help lists the keys)");
  EXPECT_NE(error_of(std::string(kJob) + "[nosuch]\nkey = 1\n").find(": [nosuch] key: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of("[job]\nname = x\nseed = seven\n[simulation]\ntables = data/t.csv\n")
                .find(path + ": [job] seed: "),
            std::string::npos);
  EXPECT_NE(error_of("[job]\nname = x\n[simulation]\ntables = data/t.csv, data/none.csv\n")
                .find("[simulation] tables: no such file: " + (dir_ / "data" / "none.csv").string()),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kJob), {"simulation.runs=0"}).find("[simulation] runs: must be at least 1"),
            std::string::npos);
  EXPECT_NE(error_of("[simulation]\ntables = data/t.csv\n").find("[job] name: missing"), std::string::npos);
  EXPECT_NE(error_of(std::string(kJob) + "[layout]\ngroups = 2\n").find("give both groups and group_size"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kJob), {"simulation.bogus=1"}).find("[simulation] bogus: unknown key"),
            std::string::npos);
  EXPECT_NE(error_of(std::string(kJob), {"noequals"}).find("expected section.key=value"), std::string::npos);
}

// Boost fills %value% and its other placeholders until none is left, so a value holding one never
// ended (found by fuzzing). The text comes back as written, once.
TEST_F(JobFileTest, ValuesThatLookLikeBoostPlaceholdersAreQuotedOnce) {
  const std::string path = (dir_ / "job.ini").string();
  EXPECT_EQ(error_of("[job]\nname = x\nseed = 7%value%\n[simulation]\ntables = data/t.csv\n"),
            path + ": [job] seed: the argument ('7%value%') for option 'job.seed' is invalid");
  EXPECT_EQ(error_of(std::string(kJob) + "%invalid_line%\n"),
            path + ": the options configuration file contains an invalid line '%invalid_line%'");
  EXPECT_NE(error_of(std::string(kJob), {"job.seed=%canonical_option%%value%"})
                .find("the argument ('%canonical_option%%value%') for option"),
            std::string::npos);
}

// A scoring job with finetuning over empty stand-ins: read_job checks that files exist, not what
// they hold.
std::string scoring_job(const fs::path& dir) {
  for (const auto* folder : {"llm", "clip", "dino", "images", "spair/PairAnnotation/test"})
    fs::create_directories(dir / folder);
  for (const auto* file : {"llm/tokenizer.model", "captions.json", "shapes.jsonl", "clip.json", "dino.json"})
    std::ofstream(dir / file) << "";
  return "[job]\nname = s\nbudget = 1\n[llm]\nfolder = llm\n[encoders]\nclip = clip\ndino = dino\n"
         "[search]\nsettings = clip; dino\n[stage1]\ndata = captions.json\nimages = images\n"
         "[c_score]\nroot = spair\n[finetune]\nsettings = policy\n[stage2]\ndata = captions.json\n"
         "images = images\n[benchmarks]\nshapes = multiple_choice:shapes.jsonl\n";
}

TEST_F(JobFileTest, KnownResultsKeys) {
  const std::string text = scoring_job(dir_);
  const JobSpec job =
      read_job(write(text + "[known]\ntable = data/t.csv\nlmms_eval = clip:clip.json; dino : dino.json\n"
                            "lmms_eval_metrics = shapes:shapes_en/acc,none*100\n"));
  const KnownSection& known = job.scoring->finetune->known;
  EXPECT_EQ(known.table, (dir_ / "data" / "t.csv").string());
  ASSERT_EQ(known.lmms_eval.size(), 2u);
  EXPECT_EQ(known.lmms_eval[0], (std::pair<std::string, std::string>{"clip", (dir_ / "clip.json").string()}));
  ASSERT_EQ(known.metrics.size(), 1u);
  EXPECT_EQ(known.metrics[0].benchmark, "shapes");
  EXPECT_EQ(known.metrics[0].key, "shapes_en/acc,none");
  EXPECT_EQ(known.metrics[0].scale, 100.0);
  EXPECT_TRUE(read_job(write(text)).scoring->finetune->known.empty());

  const std::string path = (dir_ / "job.ini").string();
  EXPECT_NE(error_of(text + "[known]\nlmms_eval = siglip:clip.json\nlmms_eval_metrics = shapes:t/a\n")
                .find(path + ": [known] lmms_eval: 'siglip' is not one of the settings"),
            std::string::npos);
  EXPECT_NE(error_of(text + "[known]\nlmms_eval = clip:none.json\nlmms_eval_metrics = shapes:t/a\n")
                .find("[known] lmms_eval: no such file: " + (dir_ / "none.json").string()),
            std::string::npos);
  EXPECT_NE(error_of(text + "[known]\nlmms_eval = clip:clip.json\n")
                .find("[known] lmms_eval_metrics: missing: which lmms-eval number is each benchmark"),
            std::string::npos);
  EXPECT_NE(error_of(text + "[known]\nlmms_eval = clip:clip.json\nlmms_eval_metrics = mme:t/a\n")
                .find("[known] lmms_eval_metrics: 'mme' is not one of the [benchmarks]"),
            std::string::npos);
  EXPECT_NE(error_of(text + "[known]\nlmms_eval = clip:clip.json\nlmms_eval_metrics = shapes:t/a*lots\n")
                .find("[known] lmms_eval_metrics: 'lots' in 'shapes:t/a*lots' is not a scale"),
            std::string::npos);
  EXPECT_NE(error_of(text + "[known]\ntable = data/none.csv\n").find("[known] table: no such file"),
            std::string::npos);
  const std::string no_finetune = text.substr(0, text.find("[finetune]"));
  EXPECT_NE(error_of(no_finetune + "[known]\ntable = data/t.csv\n")
                .find("[known] table: known results need [finetune] settings"),
            std::string::npos);
}

TEST_F(JobFileTest, ASettingMayGiveItsOwnInputSideAndTheDiffusionBlock) {
  const std::string text = scoring_job(dir_);
  const auto with = [&](const std::string& search) {
    std::string t = text;
    const std::string old = "settings = clip; dino\n";
    return t.replace(t.find(old), old.size(), search);
  };
  const JobSpec job = read_job(write(with("settings = clip; dino@448; clip+dino@336\nresolutions = 224, 336\n"
                                          "diffusion_block = 1\ndit_null_class = true\n")),
                               {"job.seed=5"});
  std::vector<std::pair<std::string, int>> got;
  for (const auto& s : job.scoring->search.settings) got.emplace_back(s.name, s.resolution);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, int>>{
                     {"clip@224", 224}, {"clip@336", 336}, {"dino@448", 448}, {"clip+dino@336", 336}}));
  EXPECT_EQ(job.scoring->search.diffusion_block, 1);
  EXPECT_TRUE(job.scoring->search.dit_null_class);
  EXPECT_EQ(job.scoring->search.noise_seed, 5u);
  EXPECT_NE(error_of(with("settings = clip@x\n")).find("[search] settings: 'clip@x': after '@'"),
            std::string::npos);
  EXPECT_NE(error_of(with("settings = clip@0\n")).find("[search] settings: 'clip@0'"), std::string::npos);
  EXPECT_EQ(read_job(write(with("settings = clip\n"))).scoring->search.diffusion_block, -1);
  EXPECT_FALSE(read_job(write(with("settings = clip\n"))).scoring->search.dit_null_class);
  EXPECT_NE(error_of(with("settings = clip\ndiffusion_block = -2\n")).find("[search] diffusion_block"),
            std::string::npos);
}

TEST_F(JobFileTest, Stage2ShardAndWeightDtype) {
  const std::string text = scoring_job(dir_);
  const JobSpec plain = read_job(write(text));  // held: the sections live in it
  const auto& defaults = plain.scoring->finetune->stage2;
  EXPECT_EQ(defaults.shard, "auto");  // the memory plan chooses (sweep/memory_plan.hpp)
  EXPECT_EQ(defaults.param_dtype, "auto");
  const JobSpec with_sets = read_job(write(text), {"stage2.shard=parameters", "stage2.param_dtype=bf16"});
  const auto& set = with_sets.scoring->finetune->stage2;
  EXPECT_EQ(set.shard, "parameters");
  EXPECT_EQ(set.param_dtype, "bf16");
  const std::string path = (dir_ / "job.ini").string();
  EXPECT_NE(
      error_of(text, {"stage2.shard=zero3"})
          .find(path + ": [stage2] shard: must be auto, none, optimizer, gradients or parameters ('zero3')"),
      std::string::npos);
  EXPECT_NE(error_of(text, {"stage2.param_dtype=fp16"})
                .find("[stage2] param_dtype: must be auto, bf16 or fp32 ('fp16')"),
            std::string::npos);
  EXPECT_NE(error_of(text, {"stage2.param_dtype=bf16", "stage2.shard=none"})
                .find("[stage2] param_dtype: bf16 trains over float32 master weights, which only a sharded "
                      "optimizer keeps"),
            std::string::npos);
}

TEST_F(JobFileTest, LoaderThreadsDefaultToTheRanksCpusAndAreBounded) {
  const std::string text = scoring_job(dir_);
  const JobSpec plain = read_job(write(text));
  EXPECT_EQ(plain.scoring->stage1.loader_threads, -1);  // -1: the CPUs the rank may run on
  EXPECT_EQ(plain.scoring->finetune->stage2.loader_threads, -1);
  const JobSpec set = read_job(write(text), {"stage1.loader_threads=0", "stage2.loader_threads=6"});
  EXPECT_EQ(set.scoring->stage1.loader_threads, 0);
  EXPECT_EQ(set.scoring->finetune->stage2.loader_threads, 6);
  EXPECT_NE(error_of(text, {"stage1.loader_threads=-2"}).find("[stage1] loader_threads: must be 0 to 256"),
            std::string::npos);
  EXPECT_NE(error_of(text, {"stage2.loader_threads=1000"}).find("[stage2] loader_threads: must be 0 to 256"),
            std::string::npos);
}

// [llm] template, and the tokenizer: tokenizer.model first, else tokenizer.json (Qwen2.5's folders).
TEST_F(JobFileTest, ChatTemplateAndTokenizerKind) {
  const std::string text = scoring_job(dir_);
  const JobSpec plain = read_job(write(text));
  EXPECT_EQ(plain.scoring->llm.chat_template, "vicuna_v1");
  EXPECT_EQ(plain.scoring->llm.tokenizer, (dir_ / "llm" / "tokenizer.model").string());
  EXPECT_EQ(read_job(write(text), {"llm.template=qwen_2"}).scoring->llm.chat_template, "qwen_2");
  EXPECT_NE(error_of(text, {"llm.template=chatml"})
                .find("[llm] template: must be vicuna_v1 or qwen_2, not 'chatml'"),
            std::string::npos);
  fs::remove(dir_ / "llm" / "tokenizer.model");
  EXPECT_NE(error_of(text).find("[llm] tokenizer: no tokenizer.model or tokenizer.json in"),
            std::string::npos);
  std::ofstream(dir_ / "llm" / "tokenizer.json") << "{}";
  EXPECT_EQ(read_job(write(text)).scoring->llm.tokenizer, (dir_ / "llm" / "tokenizer.json").string());
}

TEST(Layout, DefaultsAndRoles) {
  EXPECT_EQ(default_layout(1).groups, 0);
  EXPECT_EQ(default_layout(2).group_size, 1);
  EXPECT_EQ(default_layout(5).group_size, 2);
  EXPECT_EQ(default_layout(9).group_size, 4);
  const auto roles = assign_roles({2, 2}, 6);
  EXPECT_EQ(roles[0].role, Role::Coordinator);
  EXPECT_EQ(roles[3].role, Role::Worker);
  EXPECT_EQ(roles[3].group, 1);
  EXPECT_EQ(roles[3].group_rank, 0);
  EXPECT_EQ(roles[5].role, Role::Scorer);
  for (int w = 1; w <= 9; ++w) EXPECT_NO_THROW(assign_roles(default_layout(w), w)) << w;
}

TEST(Layout, ImpossibleLayoutsAndLaunches) {
  try {
    assign_roles({2, 4}, 8);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(),
                 "layout: 1 coordinator + 2 group(s) x 4 rank(s) needs 9 ranks, but the world has 8");
  }
  ::setenv("SLURM_NTASKS", "8", 1);
  EXPECT_THROW(check_launch(1), InputError);
  EXPECT_NO_THROW(check_launch(8));
  ::unsetenv("SLURM_NTASKS");
  EXPECT_NO_THROW(check_launch(1));
}

}  // namespace
}  // namespace acsweep::runtime
