#pragma once
// Typed fields of the JSON configs in model folders (config.json, model_index.json,
// scheduler_config.json, tokenizer_config.json): every missing key, wrong type or impossible value
// is an InputError naming the file and the key. Internal to the model readers.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace acsweep::models::json_fields {

// The file as a JSON object, read within the config size limit.
nlohmann::json read_json(const std::string& path);

// A whole number in [1, most] at `key`, or `fallback` (when >= 0) if the key is absent.
std::int64_t positive(const nlohmann::json& doc, const std::string& path, const char* key, std::int64_t most,
                      std::int64_t fallback = -1);

// The string at `key`, or `fallback` when absent or null; another type is refused naming the key.
std::string text(const nlohmann::json& doc, const std::string& path, const char* key,
                 const std::string& fallback);

double positive_real(const nlohmann::json& doc, const std::string& path, const char* key, double fallback);

bool flag(const nlohmann::json& doc, const std::string& path, const char* key, bool fallback);

}  // namespace acsweep::models::json_fields
