#include "acsweep/eval/benchmarks.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "acsweep/bounded_read.hpp"
#include "acsweep/data/llava.hpp"
#include "acsweep/error.hpp"
#include "acsweep/eval/mmmu.hpp"
#include "acsweep/eval/vqa.hpp"
#include "dataset_files.hpp"

namespace acsweep::eval {
namespace {
using detail::lower;

std::string letter(std::size_t i) { return std::string(1, static_cast<char>('A' + i)); }

// One line to an item, or the reason it cannot be one.
BenchmarkItem parse_item(const nlohmann::json& line, const std::string& image_folder, BenchmarkKind kind,
                         bool with_images) {
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
  if (with_images && !std::filesystem::is_regular_file(item.image))
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
  std::vector<std::string> texts;
  if (options.is_array()) {
    texts = detail::texts_of(options);
  } else if (options.is_object()) {
    for (std::size_t i = 0; options.contains(letter(i)); ++i)
      texts.push_back(options[letter(i)].get<std::string>());
  }
  detail::set_lettered_options(item, std::move(texts), answer);
  return item;
}

// lmms-eval's MME perception categories; every other category is cognition.
bool is_mme_perception(const std::string& category) {
  static const std::set<std::string> kPerception{"existence", "count", "position", "color",   "posters",
                                                 "celebrity", "scene", "landmark", "artwork", "OCR"};
  return kPerception.count(category) > 0;
}

// MMBench's CircularEval: a question (its group of rotated copies) counts as right only when
// every copy is; a group with a copy left out is left out. Per category too.
void circular(const Benchmark& benchmark, BenchmarkScore& s) {
  std::map<std::string, std::pair<std::string, double>> groups;  // group -> category, 1 all right / 0 / NaN
  for (std::size_t i = 0; i < benchmark.items.size(); ++i) {
    const auto& item = benchmark.items[i];
    const std::string key = item.group.empty() ? "#" + std::to_string(i) : item.group;
    auto [it, fresh] = groups.emplace(key, std::make_pair(item.category, s.correct[i]));
    if (!fresh)
      it->second.second = std::isnan(it->second.second) || std::isnan(s.correct[i])
                              ? std::numeric_limits<double>::quiet_NaN()
                              : std::min(it->second.second, s.correct[i]);
  }
  std::map<std::string, std::pair<double, double>> by_category;  // right, asked
  double right = 0, asked = 0;
  for (const auto& [key, group] : groups) {
    if (std::isnan(group.second)) continue;
    right += group.second;
    asked += 1;
    by_category[group.first].first += group.second;
    by_category[group.first].second += 1;
  }
  s.per_category.clear();
  for (const auto& [category, counts] : by_category)
    s.per_category[category] = 100.0 * counts.first / counts.second;
  s.score = asked > 0 ? 100.0 * right / asked : std::numeric_limits<double>::quiet_NaN();
}

// MMBench's can_infer: the option letter its rules read in `text`, or 0.
char mmbench_option(const std::string& text, const std::vector<std::string>& options) {
  std::vector<std::string> words;
  {
    std::istringstream in(text);
    for (std::string word; in >> word;) words.push_back(word);
  }
  const std::string letters = "ABCDE";  // MMBench reads up to E whatever the item offers
  const auto single = [&](const std::string& prefix, const std::string& suffix) -> char {
    char found = 0;
    int count = 0;
    for (const char c : letters)
      if (std::find(words.begin(), words.end(), prefix + c + suffix) != words.end()) {
        ++count;
        if (found == 0) found = c;
      }
    return count == 1 ? found : 0;
  };
  const bool quantifier = std::find(words.begin(), words.end(), "A") != words.end() && words.size() > 3;
  if (const char bare = single("", ""); bare != 0 && !quantifier) return bare;
  static const std::pair<const char*, const char*> kForms[] = {
      {"", "."},   {"", ","}, {"", ":"},  {"", ")"},  {"", ")."}, {"(", ")"},
      {"(", ")."}, {":", ""}, {":", ","}, {":", "."}, {":", ")"}, {":", ")."}};
  for (const auto& [prefix, suffix] : kForms)
    if (const char c = single(prefix, suffix); c != 0) return c;
  // The option texts: exactly one of them inside the text, case ignored.
  const std::string said = lower(text);
  char found = 0;
  int count = 0;
  for (std::size_t i = 0; i < options.size() && i < 4; ++i)  // MMBench's choices are A to D
    if (said.find(lower(options[i])) != std::string::npos) {
      ++count;
      found = static_cast<char>('A' + i);
    }
  return count == 1 ? found : 0;
}

// `text` without spaces, tabs and line ends at either end.
std::string trimmed(const std::string& text) { return detail::stripped(text, " \t\r\n"); }

// Python's str.capitalize() on ASCII: the first character upper case, the rest lower.
std::string capitalised(const std::string& text) {
  std::string out = lower(text);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

}  // namespace

BenchmarkKind benchmark_kind(const std::string& name) {
  static const std::map<std::string, BenchmarkKind> kinds{{"multiple_choice", BenchmarkKind::multiple_choice},
                                                          {"yes_no", BenchmarkKind::yes_no},
                                                          {"vqa", BenchmarkKind::vqa},
                                                          {"mme", BenchmarkKind::mme},
                                                          {"seedbench", BenchmarkKind::seedbench},
                                                          {"scienceqa", BenchmarkKind::scienceqa},
                                                          {"mmbench", BenchmarkKind::mmbench},
                                                          {"mmmu", BenchmarkKind::mmmu}};
  const auto found = kinds.find(name);
  if (found == kinds.end())
    throw std::invalid_argument(
        "'" + name +
        "' is not a benchmark kind (multiple_choice, yes_no, vqa, mme, seedbench, scienceqa, mmbench, mmmu)");
  return found->second;
}

bool is_choice(BenchmarkKind kind) {
  return kind == BenchmarkKind::multiple_choice || kind == BenchmarkKind::seedbench ||
         kind == BenchmarkKind::scienceqa || kind == BenchmarkKind::mmbench;
}

bool is_yes_no(BenchmarkKind kind) { return kind == BenchmarkKind::yes_no || kind == BenchmarkKind::mme; }

bool original_aspect(BenchmarkKind kind) {
  return kind == BenchmarkKind::scienceqa || kind == BenchmarkKind::seedbench || kind == BenchmarkKind::mmmu;
}

bool is_open(const Benchmark& benchmark, const BenchmarkItem& item) {
  return benchmark.kind == BenchmarkKind::vqa ||
         (benchmark.kind == BenchmarkKind::mmmu && item.options.empty());
}

Benchmark read_benchmark(const std::string& path, const std::string& image_folder, BenchmarkKind kind,
                         const std::string& name, bool with_images) {
  if (kind == BenchmarkKind::vqa) return read_vqa(path, name, with_images);
  if (kind == BenchmarkKind::mme) return read_mme(path, name, with_images);
  if (kind == BenchmarkKind::seedbench) return read_seedbench(path, name, with_images);
  if (kind == BenchmarkKind::scienceqa) return read_scienceqa(path, name, with_images);
  if (kind == BenchmarkKind::mmbench) return read_mmbench(path, name, with_images);
  if (kind == BenchmarkKind::mmmu) return read_mmmu(path, name, with_images);
  Benchmark b{name, kind, VqaDataset::none, {}, {}};
  detail::read_jsonl(
      path, b, [&](const nlohmann::json& line) { return parse_item(line, image_folder, kind, with_images); });
  if (b.items.empty())
    throw InputError(path + ": no usable item (" + std::to_string(b.skipped.size()) + " skipped)");
  return b;
}

std::string question_prompt(const Benchmark& benchmark, const BenchmarkItem& item) {
  // lmms-eval 0.1.x's post-prompts; TextVQA's question goes through Python's capitalize() there.
  static const std::string kUnanswerable =
      "\nWhen the provided information is insufficient, respond with 'Unanswerable'.";
  static const std::string kShort = "\nAnswer the question using a single word or phrase.";
  if (benchmark.kind == BenchmarkKind::vqa)
    return benchmark.dataset == VqaDataset::textvqa ? capitalised(item.question) + kShort
                                                    : item.question + kUnanswerable + kShort;
  if (benchmark.kind == BenchmarkKind::mme) {  // lmms-eval's MME: its yes/no request replaced
    return detail::replace_all(trimmed(item.question), " Please answer yes or no.", "") + kShort;
  }
  if (benchmark.kind == BenchmarkKind::yes_no) return item.question + kShort;
  if (benchmark.kind == BenchmarkKind::mmmu) return mmmu::prompt(item.question, item.options);
  if (benchmark.kind ==
      BenchmarkKind::mmbench) {  // lmms-eval's: "<hint> <question> There are several options:"
    std::string prompt = item.question + " There are several options:";
    for (std::size_t i = 0; i < item.options.size(); ++i) prompt += "\n" + letter(i) + ". " + item.options[i];
    return prompt + "\n\nAnswer with the option's letter from the given choices directly.";
  }
  std::string prompt = item.question;
  for (std::size_t i = 0; i < item.options.size(); ++i) prompt += "\n" + letter(i) + ". " + item.options[i];
  return prompt + "\nAnswer with the option's letter from the given choices directly.";
}

std::vector<std::string> candidate_answers(const Benchmark& benchmark, const BenchmarkItem& item) {
  if (benchmark.kind == BenchmarkKind::vqa || benchmark.kind == BenchmarkKind::mmmu)
    throw std::invalid_argument(benchmark.name + ": open-ended answers are generated, not chosen");
  if (is_yes_no(benchmark.kind)) return {"Yes", "No"};
  std::vector<std::string> letters;
  for (std::size_t i = 0; i < item.options.size(); ++i) letters.push_back(letter(i));
  return letters;
}

BenchmarkScore score_choices(const Benchmark& benchmark, const std::vector<std::size_t>& chosen) {
  if (chosen.size() != benchmark.items.size())
    throw std::invalid_argument("score_choices: one choice per item");
  if (benchmark.kind == BenchmarkKind::vqa || benchmark.kind == BenchmarkKind::mmmu)
    throw std::invalid_argument(benchmark.name + ": open-ended answers are scored by score_generated");
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
    if (is_choice(benchmark.kind)) {
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
  if (is_choice(benchmark.kind))
    s.score = 100.0 * right_total / static_cast<double>(chosen.size() - s.left_out);
  if (benchmark.kind == BenchmarkKind::mmbench) circular(benchmark, s);
  if (benchmark.kind ==
      BenchmarkKind::mme) {  // reported apart, as lmms-eval does; MME's score is perception's
    double perception = 0, cognition = 0;
    for (const auto& [category, value] : s.per_category)
      (is_mme_perception(category) ? perception : cognition) += value;
    s.per_category["perception"] = perception;
    s.per_category["cognition"] = cognition;
    s.score = perception;
  }
  return s;
}

std::size_t parsed_answer(const Benchmark& benchmark, const BenchmarkItem& item, const std::string& text) {
  const auto option = [&item](char c) {
    const auto index = static_cast<std::size_t>(c - 'A');
    return c >= 'A' && c <= 'Z' && index < item.options.size() ? index : kNotAnswered;
  };
  if (benchmark.kind == BenchmarkKind::seedbench) {  // the first character of the trimmed text
    const auto begin = text.find_first_not_of(" \t\r\n\f\v");
    return begin == std::string::npos ? kNotAnswered : option(text[begin]);
  }
  if (benchmark.kind == BenchmarkKind::scienceqa) {  // the letter itself, or "X." at the start
    if (text.size() == 1) return option(text[0]);
    return text.size() >= 2 && text[1] == '.' ? option(text[0]) : kNotAnswered;
  }
  if (benchmark.kind == BenchmarkKind::mmbench) {
    const char found = mmbench_option(text, item.options);
    return found == 0 ? kNotAnswered : option(found);
  }
  if (benchmark.kind == BenchmarkKind::mmmu) {
    if (item.options.empty())
      throw std::invalid_argument(benchmark.name + ": an open question has no option");
    return mmmu::parsed_choice(text, item.options, item.id);
  }
  if (is_yes_no(benchmark.kind)) {  // lmms-eval's MME rule
    std::string answer = trimmed(lower(text));
    answer.erase(std::remove(answer.begin(), answer.end(), '.'), answer.end());
    if (answer == "yes") return 0;
    if (answer == "no") return 1;
    const std::string prefix = answer.substr(0, 4);
    if (prefix.find("yes") != std::string::npos) return 0;
    if (prefix.find("no") != std::string::npos) return 1;
    return kNotAnswered;
  }
  if (benchmark.kind != BenchmarkKind::multiple_choice)
    throw std::invalid_argument(benchmark.name + ": only multiple choice and yes/no answers are parsed");
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return kNotAnswered;
  const bool alone = begin + 1 == text.size() || !std::isalpha(static_cast<unsigned char>(text[begin + 1]));
  return alone ? option(text[begin]) : kNotAnswered;
}

BenchmarkScore score_generated(const Benchmark& benchmark,
                               const std::vector<std::optional<std::string>>& texts) {
  if (texts.size() != benchmark.items.size())
    throw std::invalid_argument("score_generated: one text per item");
  if (benchmark.kind != BenchmarkKind::vqa && benchmark.kind != BenchmarkKind::mmmu) {
    std::vector<std::size_t> chosen;
    for (std::size_t i = 0; i < texts.size(); ++i)
      chosen.push_back(texts[i] ? parsed_answer(benchmark, benchmark.items[i], *texts[i]) : kNotAsked);
    return score_choices(benchmark, chosen);
  }
  BenchmarkScore s;
  std::map<std::string, std::pair<double, double>> by_category;  // accuracy summed, items
  double total = 0;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if (!texts[i]) {
      s.correct.push_back(std::numeric_limits<double>::quiet_NaN());
      ++s.left_out;
      continue;
    }
    const auto& item = benchmark.items[i];
    double accuracy = 0;  // vqa: VQA accuracy; mmmu: 1 right, 0 wrong
    if (benchmark.kind == BenchmarkKind::vqa)
      accuracy = vqa_accuracy(*texts[i], item.answers);
    else if (item.options.empty())
      accuracy = mmmu::open_correct(mmmu::parsed_open(*texts[i]), item.answers) ? 1.0 : 0.0;
    else
      accuracy = mmmu::parsed_choice(*texts[i], item.options, item.id) == item.answer ? 1.0 : 0.0;
    s.correct.push_back(accuracy);
    total += accuracy;
    by_category[benchmark.items[i].category].first += accuracy;
    by_category[benchmark.items[i].category].second += 1.0;
  }
  if (s.left_out == texts.size()) throw InputError(benchmark.name + ": no item has an answer to score");
  std::map<std::string, std::pair<double, double>> by_discipline;  // mmmu's six, as lmms-eval reports them
  for (const auto& [category, sums] : by_category) {
    s.per_category[category] = 100.0 * sums.first / sums.second;
    if (benchmark.kind != BenchmarkKind::mmmu || mmmu::discipline_of(category).empty()) continue;
    auto& d = by_discipline["Overall-" + mmmu::discipline_of(category)];
    d.first += sums.first;
    d.second += sums.second;
  }
  for (const auto& [discipline, sums] : by_discipline)
    s.per_category[discipline] = 100.0 * sums.first / sums.second;
  s.score = 100.0 * total / static_cast<double>(texts.size() - s.left_out);
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
