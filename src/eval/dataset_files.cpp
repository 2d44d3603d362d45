#include "dataset_files.hpp"

#include <filesystem>
#include <stdexcept>

#include "acsweep/bounded_read.hpp"
#include "acsweep/error.hpp"

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

void check_image(const BenchmarkItem& item, bool with_images) {
  if (with_images && !std::filesystem::is_regular_file(item.image))
    throw std::invalid_argument("image " + item.image + " is missing");
}

Benchmark finished(Benchmark b, const std::string& path) {
  if (b.items.empty())
    throw InputError(path + ": no usable item (" + std::to_string(b.skipped.size()) + " skipped" +
                     (b.skipped.empty() ? "" : "; first: " + b.skipped.front()) + ")");
  return b;
}

}  // namespace acsweep::eval::detail
