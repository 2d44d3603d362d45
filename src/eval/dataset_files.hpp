#pragma once
// What the readers of the benchmarks' shipped files share (eval module only): the JSON document,
// its fields as the readers need them, and the end of a reading.
#include <nlohmann/json.hpp>
#include <string>

#include "acsweep/eval/benchmarks.hpp"

namespace acsweep::eval::detail {

// The JSON document of `path`, bounded; InputError naming the file when it is not JSON.
nlohmann::json parsed_json(const std::string& path);

// A non-empty string field; an id given as a string or an integer. std::invalid_argument naming
// the key otherwise (the item is skipped and named).
std::string text_of(const nlohmann::json& object, const char* key);
std::string id_of(const nlohmann::json& object, const char* key);

// std::invalid_argument when images are wanted and the item's is missing.
void check_image(const BenchmarkItem& item, bool with_images);

// `b`, or InputError naming `path` when no item was usable (with the first reason).
Benchmark finished(Benchmark b, const std::string& path);

}  // namespace acsweep::eval::detail
