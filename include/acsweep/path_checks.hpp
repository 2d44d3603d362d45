#pragma once
// Questions about a path that never throw. std::filesystem's plain is_regular_file, is_directory
// and exists throw filesystem_error where a path cannot be examined at all (a name longer than the
// system allows, a folder without permission, a loop of links). For a path read from a user's file
// (an image named in a dataset, a folder in a job file) that is one more way for it to be missing:
// the caller's own "not found" message names it, and a bad item in a dataset is skipped and
// counted like any other missing one (found by fuzzing: a 4 KB image name in a LLaVA JSON ended
// the whole read).
#include <filesystem>
#include <system_error>

namespace acsweep {

inline bool is_file(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

inline bool is_folder(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_directory(path, error);
}

inline bool path_exists(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

}  // namespace acsweep
