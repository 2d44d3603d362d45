#pragma once
// What the readers of the benchmarks' shipped files share (eval module only): the JSON document,
// its fields as the readers need them, JSONL lines, options and their answer, the end of a
// reading; and the text operations the parse rules share.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "acsweep/eval/benchmarks.hpp"

namespace acsweep::eval::detail {

// The JSON document of `path`, bounded; InputError naming the file when it is not JSON.
nlohmann::json parsed_json(const std::string& path);

// A non-empty string field; an id given as a string or an integer. std::invalid_argument naming
// the key otherwise (the item is skipped and named).
std::string text_of(const nlohmann::json& object, const char* key);
std::string id_of(const nlohmann::json& object, const char* key);

// Every non-blank line of a JSONL benchmark file (bounded) through `parse`; a line that is not
// JSON, or that `parse` refuses (std::exception), is added to b.skipped as "path: line N: why".
void read_jsonl(const std::string& path, Benchmark& b,
                const std::function<BenchmarkItem(const nlohmann::json& line)>& parse);

// An option list and the answer into the item, the answer as its index or as its option letter
// ("B"); std::invalid_argument when they do not fit (2 to 26 options, the answer among them).
void set_options(BenchmarkItem& item, std::vector<std::string> options, std::size_t answer);
void set_lettered_options(BenchmarkItem& item, std::vector<std::string> options, const std::string& letter);

// A JSON array's elements as text: strings as they are, anything else as its JSON.
std::vector<std::string> texts_of(const nlohmann::json& array);

// ASCII lower case; `text` without `chars` at either end (Python's str.strip(chars)); every
// `from` replaced by `to`, left to right.
std::string lower(std::string text);
std::string stripped(const std::string& text, const std::string& chars = " \t\n\r\v\f");
std::string replace_all(std::string text, const std::string& from, const std::string& to);

// std::invalid_argument when images are wanted and the item's is missing.
void check_image(const BenchmarkItem& item, bool with_images);

// `b`, or InputError naming `path` when no item was usable (with the first reason).
Benchmark finished(Benchmark b, const std::string& path);

}  // namespace acsweep::eval::detail
