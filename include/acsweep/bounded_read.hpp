#pragma once
// Reading a user's file whole, never past a stated limit: a larger file, or a device or pipe that
// never ends, is an InputError naming the file and the limit, before anything is allocated for it.
// Every reader of a JSON, JSONL, INI or tokenizer file goes through it (README, "Limits"); shared by
// every module, as error.hpp is.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "acsweep/error.hpp"

namespace acsweep {

constexpr std::uintmax_t kMiB = std::uintmax_t{1} << 20;

// The limits (README, "Limits"), each far above the largest real file of its kind.
constexpr std::uintmax_t kMaxLlavaJsonBytes = 4096 * kMiB;  // LLaVA-665K's mix: 1.0 GB
constexpr std::uintmax_t kMaxBenchmarkBytes = 1024 * kMiB;  // a benchmark's JSONL, its images apart
constexpr std::uintmax_t kMaxPairJsonBytes = 1 * kMiB;      // an SPair-71k pair annotation: about 2 KB
constexpr std::uintmax_t kMaxTokenizerBytes = 256 * kMiB;   // tokenizer.model: a few MB
// config.json, preprocessor_config.json, safetensors indexes, encoder sidecars, job files,
// lmms-eval results: kilobytes to a few MB.
constexpr std::uintmax_t kMaxConfigBytes = 64 * kMiB;

// "4 GiB", "64 MiB", "512 bytes": a limit as the messages give it.
inline std::string bytes_text(std::uintmax_t bytes) {
  if (bytes >= (kMiB << 10) && bytes % (kMiB << 10) == 0) return std::to_string(bytes >> 30) + " GiB";
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes >> 20) + " MiB";
  return std::to_string(bytes) + " bytes";
}

// The file's bytes; `what` names the kind of file in the messages ("the job file"): "PATH:
// cannot open the job file", "PATH: N bytes, more than the 16 MiB the job file may hold".
inline std::string read_bounded(const std::string& path, std::uintmax_t limit, const std::string& what) {
  std::error_code error;
  if (std::filesystem::is_regular_file(path, error)) {
    const auto size = std::filesystem::file_size(path, error);
    if (!error && size > limit)
      throw InputError(path + ": " + std::to_string(size) + " bytes, more than the " + bytes_text(limit) +
                       " " + what + " may hold");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open " + what);
  std::string text;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    text.append(chunk, static_cast<std::size_t>(in.gcount()));
    if (text.size() > limit)  // not a regular file, or one that grew while read
      throw InputError(path + ": more than the " + bytes_text(limit) + " " + what + " may hold");
  }
  if (in.bad()) throw InputError(path + ": read failed");
  return text;
}

}  // namespace acsweep
