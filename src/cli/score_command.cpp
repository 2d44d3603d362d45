// acsweep score KIND:PATH PREDICTIONS.jsonl: rescores saved predictions with the benchmark's own
// metric, without a model or the images (eval/benchmarks.hpp, score_generated).
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "acsweep/bounded_read.hpp"
#include "acsweep/cli/commands.hpp"
#include "acsweep/cli/options.hpp"
#include "acsweep/error.hpp"
#include "acsweep/eval/benchmarks.hpp"
#include "acsweep/runtime/mpi.hpp"

namespace po = boost::program_options;

namespace acsweep::cli {
namespace {

constexpr const char* kUsage = "acsweep score KIND:PATH PREDICTIONS.jsonl [--json]";

struct Predictions {
  std::map<std::string, std::string> text;  // question id -> generated text
  std::vector<std::string> skipped;         // lines that could not be used, each named
};

// One {"id", "prediction"} object per line. Lines that are not such an object, and a second line
// for an id, are skipped and named.
Predictions read_predictions(const std::string& path) {
  std::istringstream in(read_bounded(path, kMaxBenchmarkBytes, "the predictions"));
  Predictions p;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path + ": line " + std::to_string(number) + ": ";
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      p.skipped.push_back(where + "not JSON (" + e.what() + ")");
      continue;
    }
    if (!doc.is_object() || !doc.contains("id") ||
        !(doc["id"].is_string() || doc["id"].is_number_integer()) || !doc.contains("prediction") ||
        !doc["prediction"].is_string()) {
      p.skipped.push_back(where + "needs \"id\" (string or integer) and \"prediction\" (string)");
      continue;
    }
    const std::string id = doc["id"].is_string() ? doc["id"].get<std::string>() : doc["id"].dump();
    if (!p.text.emplace(id, doc["prediction"].get<std::string>()).second)
      p.skipped.push_back(where + "a second prediction for id " + id);
  }
  return p;
}

}  // namespace

int run_score(const std::vector<std::string>& args, const CommandContext& context) {
  po::options_description options("acsweep score options");
  options.add_options()("json", po::bool_switch(), "print one JSON document on stdout");
  po::variables_map vm;
  if (!parse_command("score", kUsage, options, args, vm, "KIND:PATH", {"predictions"})) return 0;
  const std::string spec = vm["table"].as<std::string>();
  const auto colon = spec.find(':');
  if (colon == std::string::npos)
    throw InputError("acsweep score: '" + spec + "' is not KIND:PATH\nusage: " + kUsage);
  eval::BenchmarkKind kind;
  try {
    kind = eval::benchmark_kind(spec.substr(0, colon));
  } catch (const std::invalid_argument& e) {
    throw InputError(std::string("acsweep score: ") + e.what());
  }
  const std::string path = spec.substr(colon + 1);
  if (!std::filesystem::exists(path)) throw InputError("acsweep score: no such file or folder: " + path);
  if (context.mpi.rank() != 0) return 0;

  const auto benchmark =
      eval::read_benchmark(path, std::filesystem::path(path).parent_path().string(), kind,
                           std::filesystem::path(path).stem().string(), /*with_images=*/false);
  const std::string predictions_path = vm["predictions"].as<std::string>();
  if (!std::filesystem::is_regular_file(predictions_path))
    throw InputError("acsweep score: no such file: " + predictions_path);
  const Predictions predictions = read_predictions(predictions_path);
  std::vector<std::optional<std::string>> texts;
  std::size_t matched = 0;
  for (const auto& item : benchmark.items) {
    const auto found = predictions.text.find(item.id);
    texts.push_back(found == predictions.text.end() ? std::nullopt
                                                    : std::optional<std::string>(found->second));
    if (found != predictions.text.end()) ++matched;
  }
  if (matched == 0)
    throw InputError(predictions_path + ": no prediction has the id of an item of " + path +
                     " (ids are the dataset's own question ids)");
  const auto score = eval::score_generated(benchmark, texts);
  const std::size_t unknown = predictions.text.size() - matched;

  for (const auto& why : benchmark.skipped) std::fprintf(stderr, "acsweep score: skipped %s\n", why.c_str());
  for (const auto& why : predictions.skipped)
    std::fprintf(stderr, "acsweep score: skipped %s\n", why.c_str());
  if (vm["json"].as<bool>()) {
    nlohmann::ordered_json doc;
    doc["score"] = score.score;
    doc["parts"] = nlohmann::ordered_json::object();
    for (const auto& [category, value] : score.per_category) doc["parts"][category] = value;
    doc["items"] = benchmark.items.size() - score.left_out;
    doc["without_prediction"] = score.left_out;
    doc["unknown_ids"] = unknown;
    doc["skipped"] = benchmark.skipped.size() + predictions.skipped.size();
    std::cout << doc.dump(2) << "\n";
    return 0;
  }
  const char* metric = kind == eval::BenchmarkKind::vqa    ? "VQA accuracy %"
                       : kind == eval::BenchmarkKind::mmmu ? "accuracy % over every question (MMMU's rules)"
                       : eval::is_choice(kind)             ? "accuracy %"
                       : kind == eval::BenchmarkKind::mme
                           ? "perception: sum over its categories of acc + acc+"
                           : "sum over categories of acc + acc+";
  std::printf("%s (%s): %.2f, %s, on %zu items\n", benchmark.name.c_str(), spec.substr(0, colon).c_str(),
              score.score, metric, benchmark.items.size() - score.left_out);
  for (const auto& [category, value] : score.per_category)
    std::printf("  %-24s %8.2f\n", category.c_str(), value);
  if (score.left_out > 0) std::printf("%zu items have no prediction: left out\n", score.left_out);
  if (unknown > 0) std::printf("%zu predictions name no item of the benchmark: ignored\n", unknown);
  const std::size_t skipped = benchmark.skipped.size() + predictions.skipped.size();
  if (skipped > 0) std::printf("%zu lines or items skipped (named on stderr)\n", skipped);
  return 0;
}

}  // namespace acsweep::cli
