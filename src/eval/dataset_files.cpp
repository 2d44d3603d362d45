#include "dataset_files.hpp"

#include <cctype>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "acsweep/bounded_read.hpp"
#include "acsweep/error.hpp"
#include "acsweep/path_checks.hpp"

namespace acsweep::eval::detail {

nlohmann::json parsed_json(const std::string& path) {
  try {
    return nlohmann::json::parse(read_bounded(path, kMaxBenchmarkBytes, "the benchmark"));
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not JSON (" + e.what() + ")");
  }
}

std::string text_of(const nlohmann::json& object, const char* key) {
  if (!object.contains(key) || !object[key].is_string() || object[key].get<std::string>().empty())
    throw std::invalid_argument(std::string("no '") + key + "'");
  return object[key].get<std::string>();
}

std::string id_of(const nlohmann::json& object, const char* key) {
  if (!object.contains(key) || !(object[key].is_number_integer() || object[key].is_string()))
    throw std::invalid_argument(std::string("no '") + key + "'");
  return object[key].is_string() ? object[key].get<std::string>() : object[key].dump();
}

void read_jsonl(const std::string& path, Benchmark& b,
                const std::function<BenchmarkItem(const nlohmann::json& line)>& parse) {
  std::istringstream in(read_bounded(path, kMaxBenchmarkBytes, "the benchmark"));
  std::string text;
  for (std::size_t number = 1; std::getline(in, text); ++number) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      b.items.push_back(parse(nlohmann::json::parse(text)));
    } catch (const std::exception& e) {  // a JSON error, a missing field or image, a path escape
      b.skipped.push_back(path + ": line " + std::to_string(number) + ": " + e.what());
    }
  }
}

void set_options(BenchmarkItem& item, std::vector<std::string> options, std::size_t answer) {
  if (options.size() < 2 || options.size() > 26) throw std::invalid_argument("needs 2 to 26 options");
  if (answer >= options.size()) throw std::invalid_argument("the answer is not one of the options");
  item.options = std::move(options);
  item.answer = answer;
}

void set_lettered_options(BenchmarkItem& item, std::vector<std::string> options, const std::string& letter) {
  if (options.size() < 2 || options.size() > 26) throw std::invalid_argument("needs 2 to 26 options");
  if (letter.size() != 1 || letter[0] < 'A' || static_cast<std::size_t>(letter[0] - 'A') >= options.size())
    throw std::invalid_argument("answer '" + letter + "' is not one of the option letters");
  set_options(item, std::move(options), static_cast<std::size_t>(letter[0] - 'A'));
}

std::vector<std::string> texts_of(const nlohmann::json& array) {
  std::vector<std::string> out;
  for (const auto& element : array)
    out.push_back(element.is_string() ? element.get<std::string>() : element.dump());
  return out;
}

std::string lower(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string stripped(const std::string& text, const std::string& chars) {
  const auto begin = text.find_first_not_of(chars);
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(chars) - begin + 1);
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

void check_image(const BenchmarkItem& item, bool with_images) {
  if (with_images && !is_file(item.image)) throw std::invalid_argument("image " + item.image + " is missing");
}

Benchmark finished(Benchmark b, const std::string& path) {
  if (b.items.empty())
    throw InputError(path + ": no usable item (" + std::to_string(b.skipped.size()) + " skipped" +
                     (b.skipped.empty() ? "" : "; first: " + b.skipped.front()) + ")");
  return b;
}

}  // namespace acsweep::eval::detail
