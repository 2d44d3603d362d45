#pragma once
// Stable content hashes: FNV-1a over bytes, as 16 hex digits. Used to tell whether an earlier
// result still holds for a task (same hash) or must be recomputed (its definition changed).
#include <cstdint>
#include <cstdio>
#include <string>

namespace acsweep::runtime {

class ContentHash {
 public:
  ContentHash& add(const std::string& bytes) {
    for (unsigned char ch : bytes) state_ = (state_ ^ ch) * 0x100000001B3ULL;
    state_ = (state_ ^ 0xFF) * 0x100000001B3ULL;  // field separator: ("ab","c") != ("a","bc")
    return *this;
  }
  std::string hex() const {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(state_));
    return text;
  }

 private:
  std::uint64_t state_ = 0xCBF29CE484222325ULL;
};

}  // namespace acsweep::runtime
