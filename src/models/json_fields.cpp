#include "json_fields.hpp"

#include "acsweep/bounded_read.hpp"
#include "acsweep/error.hpp"

namespace acsweep::models::json_fields {

nlohmann::json read_json(const std::string& path) {
  const std::string text = read_bounded(path, kMaxConfigBytes, "a model's config");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not JSON: " + e.what());
  }
  if (!doc.is_object()) throw InputError(path + ": must be a JSON object, not " + doc.type_name());
  return doc;
}

std::int64_t positive(const nlohmann::json& doc, const std::string& path, const char* key, std::int64_t most,
                      std::int64_t fallback) {
  if (!doc.contains(key) || doc[key].is_null()) {
    if (fallback >= 0) return fallback;
    throw InputError(path + ": missing key '" + key + "'");
  }
  // nlohmann keeps a positive whole number as unsigned: compare it so, past int64's range too.
  const auto& value = doc[key];
  if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<std::int64_t>() <= 0) ||
      (value.is_number_unsigned() && value.get<std::uint64_t>() == 0))
    throw InputError(path + ": '" + key + "' must be a positive whole number, not " + value.dump());
  if (value.get<std::uint64_t>() > static_cast<std::uint64_t>(most))
    throw InputError(path + ": '" + key + "' is " + doc[key].dump() + ", more than any model has (at most " +
                     std::to_string(most) + ")");
  return doc[key].get<std::int64_t>();
}

std::string text(const nlohmann::json& doc, const std::string& path, const char* key,
                 const std::string& fallback) {
  if (!doc.contains(key) || doc[key].is_null()) return fallback;
  if (!doc[key].is_string())
    throw InputError(path + ": '" + key + "' must be a string, not " + doc[key].dump());
  return doc[key].get<std::string>();
}

double positive_real(const nlohmann::json& doc, const std::string& path, const char* key, double fallback) {
  if (!doc.contains(key) || doc[key].is_null()) return fallback;
  if (!doc[key].is_number() || doc[key].get<double>() <= 0)
    throw InputError(path + ": '" + key + "' must be a positive number, not " + doc[key].dump());
  return doc[key].get<double>();
}

bool flag(const nlohmann::json& doc, const std::string& path, const char* key, bool fallback) {
  if (!doc.contains(key) || doc[key].is_null()) return fallback;
  if (!doc[key].is_boolean())
    throw InputError(path + ": '" + key + "' must be true or false, not " + doc[key].dump());
  return doc[key].get<bool>();
}

}  // namespace acsweep::models::json_fields
