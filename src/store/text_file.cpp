#include "acsweep/store/text_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace acsweep::store {

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error(temporary + ": cannot create (" + std::strerror(errno) + ")");
  const bool written =
      std::fwrite(text.data(), 1, text.size(), file) == text.size() && std::fflush(file) == 0;
  const int error = errno;
  if (std::fclose(file) != 0 || !written) {
    std::remove(temporary.c_str());
    throw std::runtime_error(temporary + ": cannot write (" + std::strerror(written ? errno : error) + ")");
  }
  std::error_code code;
  std::filesystem::rename(temporary, path, code);
  if (code) {
    std::remove(temporary.c_str());
    throw std::runtime_error(path + ": cannot replace with " + temporary + " (" + code.message() + ")");
  }
}

}  // namespace acsweep::store
