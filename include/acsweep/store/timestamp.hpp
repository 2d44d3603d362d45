#pragma once
// The time stamps written into results files: UTC, ISO 8601, to the second.
#include <chrono>
#include <ctime>
#include <string>

namespace acsweep::store {

inline std::string utc_timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace acsweep::store
