#pragma once
// Benchmarks of the finetuned model (shared/spec/ARCHITECTURE.md, "Data formats"):
//  - multiple choice, JSONL lines {"id", "image", "question", "options": [...] or {"A": ...},
//    "answer": "B", "category"}: the model's choice is the option letter it finds most likely
//    after the vicuna_v1 prompt ending "Answer with the option's letter from the given choices
//    directly."; accuracy in percent, overall and per category;
//  - yes/no with MME's rule, lines {"id", "image", "question", "answer": "Yes"|"No",
//    "category"}: per category acc (questions right) and acc+ (images whose questions are all
//    right), the category's score acc + acc+, the benchmark's score their sum;
//  - lmms-eval results JSON, for scores measured elsewhere.
// Lines that cannot be used (no options, an answer that is not an option, a missing image) are
// skipped, each with a message naming the file and line, and counted.
#include <map>
#include <string>
#include <vector>

namespace acsweep::eval {

enum class BenchmarkKind { multiple_choice, yes_no };

struct BenchmarkItem {
  std::string id, image, question, category;
  std::vector<std::string> options;  // multiple choice, in letter order
  std::size_t answer = 0;            // index into the options; yes/no: 0 yes, 1 no
};

struct Benchmark {
  std::string name;
  BenchmarkKind kind = BenchmarkKind::multiple_choice;
  std::vector<BenchmarkItem> items;
  std::vector<std::string> skipped;
};

// InputError when the file cannot be read at all.
Benchmark read_benchmark(const std::string& path, const std::string& image_folder, BenchmarkKind kind,
                         const std::string& name);

// The text the model is asked (the image goes before it) and its candidate answers.
std::string question_prompt(const Benchmark& benchmark, const BenchmarkItem& item);
std::vector<std::string> candidate_answers(const Benchmark& benchmark, const BenchmarkItem& item);

struct BenchmarkScore {
  double score = 0;  // multiple choice: accuracy %; yes/no: sum over categories of acc + acc+
  std::map<std::string, double> per_category;  // accuracy %, or acc + acc+
  std::vector<double> correct;                 // per item, 1 or 0; NaN for an item left out
  std::size_t left_out = 0;
};

// The choice of an item that was not asked: its image did not decode.
constexpr std::size_t kNotAsked = static_cast<std::size_t>(-1);

// From each item's chosen candidate (an index into candidate_answers, or kNotAsked: left out of
// every count, as if the benchmark did not hold it).
BenchmarkScore score_choices(const Benchmark& benchmark, const std::vector<std::size_t>& chosen);

// lmms-eval's results JSON: {"results": {task: {"metric,filter": value}}} as "task/metric,filter"
// -> value, numbers only. InputError naming the file when it is not such a file.
std::map<std::string, double> read_lmms_eval(const std::string& path);

}  // namespace acsweep::eval
