// MMMU: its parse rules and scoring (eval/mmmu.hpp) and its reader (benchmarks.hpp, read_mmmu).
#include "acsweep/eval/mmmu.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "acsweep/data/llava.hpp"
#include "acsweep/error.hpp"
#include "acsweep/eval/benchmarks.hpp"
#include "dataset_files.hpp"

namespace acsweep::eval {
namespace mmmu {
namespace {

// Python's str.lower() and str.strip() (whitespace, or the characters given), in ASCII.
using detail::lower;
using detail::stripped;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Python's len() of UTF-8 text: its code points.
std::size_t length(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(
      text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// Python's float(text) after check_is_number's removal of commas: a decimal number, "inf",
// "infinity" or "nan" with a sign, spaces around, underscores between digits; not hexadecimal.
bool as_number(std::string text, double& value) {
  text.erase(std::remove(text.begin(), text.end(), ','), text.end());
  text = stripped(text);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '_') continue;
    if (i == 0 || i + 1 == text.size() || !std::isdigit(static_cast<unsigned char>(text[i - 1])) ||
        !std::isdigit(static_cast<unsigned char>(text[i + 1])))
      return false;
  }
  text.erase(std::remove(text.begin(), text.end(), '_'), text.end());
  if (text.empty() || text.find_first_of("xX(pP") != std::string::npos) return false;
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

// Python's round(value, 2): the decimal rounding of the exact binary value, ties to even.
double rounded(double value) {
  if (!std::isfinite(value)) return value;
  char buffer[512];
  std::snprintf(buffer, sizeof buffer, "%.2f", value);
  return std::strtod(buffer, nullptr);
}

// normalize_str into `out`.
void normalise(const std::string& text, OpenAnswer& out) {
  const std::string s = stripped(text);
  double number = 0;
  if (as_number(s, number)) {
    out.numbers.push_back(rounded(number));
    return;
  }
  const std::string low = lower(s);
  if (length(low) == 1) {
    out.texts.push_back(" " + low);
    out.texts.push_back(low + " ");
  } else {
    out.texts.push_back(low);
  }
}

// FNV-1a: the stand-in for MMMU's random choice, the same on every machine.
std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (const unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return h;
}

const std::map<std::string, std::string>& disciplines() {
  static const std::map<std::string, std::string> kBySubject = [] {
    const std::pair<const char*, std::vector<const char*>> kGroups[] = {
        {"Art and Design", {"Art", "Art_Theory", "Design", "Music"}},
        {"Business", {"Accounting", "Economics", "Finance", "Manage", "Marketing"}},
        {"Science", {"Biology", "Chemistry", "Geography", "Math", "Physics"}},
        {"Health and Medicine",
         {"Basic_Medical_Science", "Clinical_Medicine", "Diagnostics_and_Laboratory_Medicine", "Pharmacy",
          "Public_Health"}},
        {"Humanities and Social Science", {"History", "Literature", "Sociology", "Psychology"}},
        {"Tech and Engineering",
         {"Agriculture", "Architecture_and_Engineering", "Computer_Science", "Electronics",
          "Energy_and_Power", "Materials", "Mechanical_Engineering"}}};
    std::map<std::string, std::string> by_subject;
    for (const auto& [discipline, subjects] : kGroups)
      for (const char* subject : subjects) by_subject[subject] = discipline;
    return by_subject;
  }();
  return kBySubject;
}

}  // namespace

std::size_t parsed_choice(const std::string& text, const std::vector<std::string>& options,
                          const std::string& id) {
  if (options.empty()) throw std::invalid_argument("mmmu::parsed_choice: no options");
  std::string response = text;
  for (const char c : std::string(",.!?;:'")) response = stripped(response, std::string(1, c));
  response = " " + response + " ";
  std::vector<std::size_t> candidates;
  const auto letter = [](std::size_t i) { return std::string(1, static_cast<char>('A' + i)); };
  bool by_letter = true, bracketed = false;
  for (std::size_t i = 0; i < options.size(); ++i)
    if (has(response, "(" + letter(i) + ")")) candidates.push_back(i), bracketed = true;
  if (candidates.empty())
    for (std::size_t i = 0; i < options.size(); ++i)
      if (has(response, letter(i) + " ")) candidates.push_back(i);
  if (candidates.empty())
    for (std::size_t i = 0; i < options.size(); ++i)
      if (has(response, letter(i) + ".")) candidates.push_back(i);
  std::size_t words = 0;
  {
    std::istringstream in(response);
    for (std::string word; in >> word;) ++words;
  }
  const std::string low = lower(response);
  if (candidates.empty() && words > 5) {
    for (std::size_t i = 0; i < options.size(); ++i)
      if (has(low, lower(options[i]))) candidates.push_back(i);
    by_letter = false;
  }
  if (candidates.empty()) return static_cast<std::size_t>(fnv1a(id) % options.size());
  if (candidates.size() == 1) return candidates[0];
  // The one named last (by its letter in the form found, or by its text); the first of equals.
  std::size_t best = candidates[0];
  long best_at = -2;
  for (const auto i : candidates) {
    const std::string needle =
        !by_letter ? lower(options[i]) : (bracketed ? "(" + letter(i) + ")" : " " + letter(i) + " ");
    const auto at = (by_letter ? response : low).rfind(needle);
    const long position = at == std::string::npos ? -1 : static_cast<long>(at);
    if (position > best_at) best_at = position, best = i;
  }
  return best;
}

std::vector<std::string> numbers_in(const std::string& text) {
  static const std::regex kCommas(R"(-?\b\d{1,3}(?:,\d{3})+\b)");
  static const std::regex kScientific(R"(-?\d+(?:\.\d+)?[eE][+-]?\d+)");
  static const std::regex kSimple(R"(-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d]))");
  std::vector<std::string> out;
  for (const auto* pattern : {&kCommas, &kScientific, &kSimple})
    for (auto it = std::sregex_iterator(text.begin(), text.end(), *pattern); it != std::sregex_iterator();
         ++it)
      out.push_back(it->str(0));
  return out;
}

OpenAnswer parsed_open(const std::string& text) {
  // get_key_subresponses. lmms-eval splits the lower-cased text at line ends and at ". " before a
  // capital letter, of which lower-casing has left none.
  const std::string response = lower(stripped(stripped(text), "."));
  std::vector<std::string> lines;
  {
    std::size_t start = 0;
    for (auto end = response.find('\n'); end != std::string::npos; end = response.find('\n', start)) {
      lines.push_back(response.substr(start, end - start));
      start = end + 1;
    }
    lines.push_back(response.substr(start));
  }
  std::vector<std::string> indicators{"could be ",  "so ",    "is ",     "thus ",
                                      "therefore ", "final ", "answer ", "result "};
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i + 1 == lines.size()) indicators.push_back("=");  // an equation only on the last line
    std::string shortest;  // empty: none yet (an empty one counts as none, as in Python)
    for (const auto& indicator : indicators) {
      const auto at = lines[i].rfind(indicator);
      if (at == std::string::npos) continue;
      const std::string after = stripped(lines[i].substr(at + indicator.size()));
      if (shortest.empty() || length(after) < length(shortest)) shortest = after;
    }
    static const std::vector<std::string> kTrivial{":", ",", ".", "!", "?", ";", "'"};
    if (!shortest.empty() &&
        std::find(kTrivial.begin(), kTrivial.end(), stripped(shortest)) == kTrivial.end())
      keys.push_back(shortest);
  }
  if (keys.empty()) keys.push_back(response);
  std::vector<std::string> all = keys;
  for (const auto& key : keys)
    for (auto& number : numbers_in(key)) all.push_back(std::move(number));
  OpenAnswer out;
  for (const auto& part : all) normalise(part, out);
  std::sort(out.texts.begin(), out.texts.end());
  out.texts.erase(std::unique(out.texts.begin(), out.texts.end()), out.texts.end());
  return out;
}

bool open_correct(const OpenAnswer& prediction, const std::vector<std::string>& gold) {
  OpenAnswer answers;
  for (const auto& g : gold) normalise(g, answers);
  for (const auto& said : prediction.texts)
    for (const auto& answer : answers.texts)
      if (has(said, answer)) return true;
  for (const double said : prediction.numbers)
    for (const double answer : answers.numbers)
      if (said == answer) return true;
  return false;
}

std::string subject_of(const std::string& id) {
  const auto first = id.find('_'), last = id.rfind('_');
  if (first == std::string::npos || last <= first + 1 || last + 1 >= id.size()) return "";
  if (!std::all_of(id.begin() + static_cast<long>(last) + 1, id.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    return "";
  return id.substr(first + 1, last - first - 1);
}

std::string discipline_of(const std::string& subject) {
  const auto found = disciplines().find(subject);
  return found == disciplines().end() ? "" : found->second;
}

std::string prompt(const std::string& question, const std::vector<std::string>& options) {
  std::string text = question;
  if (options.empty()) {
    text += "\nAnswer the question using a single word or phrase.";
  } else {
    text += "\n";
    for (std::size_t i = 0; i < options.size(); ++i)
      text += (i ? "\n" : "") + std::string(1, static_cast<char>('A' + i)) + ". " + options[i];
    text += "\nAnswer with the option letter from the given choices directly.";
  }
  for (int k = 1; k <= 7; ++k)
    text = detail::replace_all(text, "<image " + std::to_string(k) + ">", data::kImageToken);
  return text;
}

std::vector<int> image_numbers(const std::string& question, const std::vector<std::string>& options) {
  std::string text = question;
  for (const auto& option : options) text += "\n" + option;
  static const std::regex kNumberedImage(R"(<image (\d+)>)");
  std::vector<int> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kNumberedImage); it != std::sregex_iterator();
       ++it)
    out.push_back(std::stoi(it->str(1)));
  return out;
}

}  // namespace mmmu

Benchmark read_mmmu(const std::string& path, const std::string& name, bool with_images) {
  namespace fs = std::filesystem;
  const std::string folder = fs::path(path).parent_path().string();
  Benchmark b{name, BenchmarkKind::mmmu, VqaDataset::none, {}, {}};
  detail::read_jsonl(path, b, [&](const nlohmann::json& q) {
    BenchmarkItem item;
    item.id = detail::id_of(q, "id");
    item.question = detail::text_of(q, "question");
    const std::string type = detail::text_of(q, "question_type");
    if (type != "multiple-choice" && type != "open")
      throw std::invalid_argument("question_type '" + type + "' is not multiple-choice or open");
    if (type == "multiple-choice") {
      if (!q.contains("options") || !q["options"].is_array())
        throw std::invalid_argument("no 'options' list");
      auto options = detail::texts_of(q["options"]);
      detail::set_lettered_options(item, std::move(options), detail::text_of(q, "answer"));
    } else if (q.contains("answer") && q["answer"].is_array()) {
      for (const auto& a : q["answer"])
        if (a.is_string()) item.answers.push_back(a.get<std::string>());
      if (item.answers.empty()) throw std::invalid_argument("no 'answer'");
    } else {
      item.answers.push_back(detail::text_of(q, "answer"));
    }
    const std::string subject = mmmu::subject_of(item.id);
    item.category = subject.empty() ? "all" : subject;
    for (const int k : mmmu::image_numbers(item.question, item.options)) {
      const std::string key = "image_" + std::to_string(k);
      if (k > 7 || !q.contains("images") || !q["images"].is_object() || !q["images"].contains(key) ||
          !q["images"][key].is_string())
        throw std::invalid_argument("the question shows <image " + std::to_string(k) +
                                    ">, which it does not have");
      item.images.push_back(data::resolve_inside(folder, q["images"][key].get<std::string>(), key));
      if (with_images && !fs::is_regular_file(item.images.back()))
        throw std::invalid_argument("image " + item.images.back() + " is missing");
    }
    const std::string asked = mmmu::prompt(item.question, item.options);
    std::size_t shown = 0;
    for (auto at = asked.find(data::kImageToken); at != std::string::npos;
         at = asked.find(data::kImageToken, at + 1))
      ++shown;
    if (shown != item.images.size())
      throw std::invalid_argument("the question holds " + std::to_string(shown) + " <image> places for " +
                                  std::to_string(item.images.size()) + " images");
    if (!item.images.empty()) item.image = item.images.front();
    return item;
  });
  return detail::finished(std::move(b), path);
}

}  // namespace acsweep::eval
