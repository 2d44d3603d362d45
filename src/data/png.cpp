#include "png.hpp"

#include <cstdlib>
#include <string>
#include <unordered_set>

#include "acsweep/error.hpp"

namespace acsweep::data::detail {
namespace {

// An stb assertion: a corrupt file reached a state stb's author believed impossible. The
// decode is abandoned from there, through C++ frames only (stb is compiled as C++ here).
struct StbAssertion {
  const char* condition;
};

[[noreturn]] void stb_assertion_failed(const char* condition) { throw StbAssertion{condition}; }

// Every block stb holds during one decode on this thread, freed if the decode is abandoned.
thread_local std::unordered_set<void*>* t_blocks = nullptr;

void* stb_malloc(std::size_t size) {
  void* block = std::malloc(size);
  if (block && t_blocks) t_blocks->insert(block);
  return block;
}

void* stb_realloc(void* old, std::size_t size) {
  void* block = std::realloc(old, size);
  if (block && t_blocks) {
    t_blocks->erase(old);
    t_blocks->insert(block);
  }
  return block;
}

void stb_free(void* block) {
  if (block && t_blocks) t_blocks->erase(block);
  std::free(block);
}

}  // namespace
}  // namespace acsweep::data::detail

// PNG only: JPEG goes to libjpeg-turbo (image.cpp), and no other format is read. STBIDEF static
// keeps stb's symbols inside this file.
#define STBI_ASSERT(x) ((x) ? (void)0 : acsweep::data::detail::stb_assertion_failed(#x))
#define STBI_MALLOC(size) acsweep::data::detail::stb_malloc(size)
#define STBI_REALLOC(block, size) acsweep::data::detail::stb_realloc(block, size)
#define STBI_FREE(block) acsweep::data::detail::stb_free(block)
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

namespace acsweep::data::detail {

Image decode_png(const std::vector<unsigned char>& bytes, const std::string& path) {
  std::unordered_set<void*> blocks;
  struct Scope {  // frees what an abandoned decode left, and stops tracking on any exit
    std::unordered_set<void*>& blocks;
    ~Scope() {
      t_blocks = nullptr;
      for (void* block : blocks) std::free(block);
    }
  } scope{blocks};
  t_blocks = &blocks;
  int width = 0, height = 0, channels = 0;
  stbi_uc* pixels = nullptr;
  try {
    pixels =
        stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height, &channels, 3);
  } catch (const StbAssertion& assertion) {
    throw InputError(path + ": cannot decode image (a corrupt PNG: stb_image's check " + assertion.condition +
                     " fails)");
  }
  if (!pixels) throw InputError(path + ": cannot decode image (" + stbi_failure_reason() + ")");
  Image image{width, height, {}};
  image.rgb.assign(pixels, pixels + static_cast<std::size_t>(width) * height * 3);
  stbi_image_free(pixels);
  return image;
}

}  // namespace acsweep::data::detail
