#include "acsweep/eval/benchmarks.hpp"

#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "acsweep/bounded_read.hpp"
#include "acsweep/data/llava.hpp"
#include "acsweep/error.hpp"

namespace acsweep::eval {
namespace {

std::string letter(std::size_t i) { return std::string(1, static_cast<char>('A' + i)); }

// One line to an item, or the reason it cannot be one.
BenchmarkItem parse_item(const nlohmann::json& line, const std::string& image_folder, BenchmarkKind kind) {
  BenchmarkItem item;
  const auto text = [&](const char* key) {
    if (!line.contains(key) || !line[key].is_string() || line[key].get<std::string>().empty())
      throw std::invalid_argument(std::string("no '") + key + "'");
    return line[key].get<std::string>();
  };
  item.id =
      line.contains("id") ? (line["id"].is_string() ? line["id"].get<std::string>() : line["id"].dump()) : "";
  item.question = text("question");
  item.category = line.value("category", "all");
  item.image = data::resolve_inside(image_folder, text("image"), "image");
  if (!std::filesystem::is_regular_file(item.image))
    throw std::invalid_argument("image " + item.image + " is missing");
  const std::string answer = text("answer");
  if (kind == BenchmarkKind::yes_no) {
    if (answer != "Yes" && answer != "No" && answer != "yes" && answer != "no")
      throw std::invalid_argument("answer '" + answer + "' is not Yes or No");
    item.answer = (answer == "Yes" || answer == "yes") ? 0 : 1;
    return item;
  }
  if (!line.contains("options")) throw std::invalid_argument("no 'options'");
  const auto& options = line["options"];
  if (options.is_array()) {
    for (const auto& o : options) item.options.push_back(o.is_string() ? o.get<std::string>() : o.dump());
  } else if (options.is_object()) {
    for (std::size_t i = 0; options.contains(letter(i)); ++i)
      item.options.push_back(options[letter(i)].get<std::string>());
  }
  if (item.options.size() < 2 || item.options.size() > 26)
    throw std::invalid_argument("needs 2 to 26 options");
  if (answer.size() != 1 || answer[0] < 'A' ||
      static_cast<std::size_t>(answer[0] - 'A') >= item.options.size())
    throw std::invalid_argument("answer '" + answer + "' is not one of the option letters");
  item.answer = static_cast<std::size_t>(answer[0] - 'A');
  return item;
}

}  // namespace

Benchmark read_benchmark(const std::string& path, const std::string& image_folder, BenchmarkKind kind,
                         const std::string& name) {
  std::istringstream in(read_bounded(path, kMaxBenchmarkBytes, "the benchmark"));
  Benchmark b{name, kind, {}, {}};
  std::string text;
  for (std::size_t number = 1; std::getline(in, text); ++number) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      b.items.push_back(parse_item(nlohmann::json::parse(text), image_folder, kind));
    } catch (const std::exception& e) {  // a JSON error, a missing field or image, a path escape
      b.skipped.push_back(path + ": line " + std::to_string(number) + ": " + e.what());
    }
  }
  if (b.items.empty())
    throw InputError(path + ": no usable item (" + std::to_string(b.skipped.size()) + " skipped)");
  return b;
}

std::string question_prompt(const Benchmark& benchmark, const BenchmarkItem& item) {
  if (benchmark.kind == BenchmarkKind::yes_no)
    return item.question + "\nAnswer the question using a single word or phrase.";
  std::string prompt = item.question;
  for (std::size_t i = 0; i < item.options.size(); ++i) prompt += "\n" + letter(i) + ". " + item.options[i];
  return prompt + "\nAnswer with the option's letter from the given choices directly.";
}

std::vector<std::string> candidate_answers(const Benchmark& benchmark, const BenchmarkItem& item) {
  if (benchmark.kind == BenchmarkKind::yes_no) return {"Yes", "No"};
  std::vector<std::string> letters;
  for (std::size_t i = 0; i < item.options.size(); ++i) letters.push_back(letter(i));
  return letters;
}

BenchmarkScore score_choices(const Benchmark& benchmark, const std::vector<std::size_t>& chosen) {
  if (chosen.size() != benchmark.items.size())
    throw std::invalid_argument("score_choices: one choice per item");
  BenchmarkScore s;
  std::map<std::string, std::pair<double, double>> by_category;         // right, all
  std::map<std::string, std::map<std::string, bool>> images_all_right;  // category -> image -> all right
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    const auto& item = benchmark.items[i];
    if (chosen[i] == kNotAsked) {
      s.correct.push_back(std::numeric_limits<double>::quiet_NaN());
      ++s.left_out;
      continue;
    }
    const bool right = chosen[i] == item.answer;
    s.correct.push_back(right ? 1.0 : 0.0);
    by_category[item.category].first += right ? 1.0 : 0.0;
    by_category[item.category].second += 1.0;
    auto [it, fresh] = images_all_right[item.category].emplace(item.image, right);
    if (!fresh) it->second = it->second && right;
  }
  double right_total = 0;
  for (const auto& [category, counts] : by_category) {
    const double accuracy = 100.0 * counts.first / counts.second;
    right_total += counts.first;
    if (benchmark.kind == BenchmarkKind::multiple_choice) {
      s.per_category[category] = accuracy;
      continue;
    }
    double all_right = 0;
    for (const auto& [image, ok] : images_all_right[category]) all_right += ok ? 1.0 : 0.0;
    s.per_category[category] =
        accuracy + 100.0 * all_right / static_cast<double>(images_all_right[category].size());
    s.score += s.per_category[category];
  }
  if (s.left_out == chosen.size())
    throw InputError(benchmark.name + ": no item could be asked (no image decodes)");
  if (benchmark.kind == BenchmarkKind::multiple_choice)
    s.score = 100.0 * right_total / static_cast<double>(chosen.size() - s.left_out);
  return s;
}

std::map<std::string, double> read_lmms_eval(const std::string& path) {
  const std::string text = read_bounded(path, kMaxConfigBytes, "the lmms-eval results");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not JSON (" + e.what() + ")");
  }
  if (!doc.contains("results") || !doc["results"].is_object())
    throw InputError(path + ": no 'results' object: not an lmms-eval results file");
  std::map<std::string, double> out;
  for (const auto& [task, metrics] : doc["results"].items())
    if (metrics.is_object())
      for (const auto& [metric, value] : metrics.items())
        if (value.is_number()) out[task + "/" + metric] = value.get<double>();
  return out;
}

}  // namespace acsweep::eval
