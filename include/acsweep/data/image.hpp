#pragma once
// Images as 8-bit RGB pixels: decoding (JPEG through libjpeg-turbo as Pillow does, PNG through
// stb_image) and the resampling that Hugging Face image processors do through Pillow, reproduced
// exactly (Pillow's separable convolution with its fixed-point rounding), so features match the
// Python pipeline's.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace acsweep::data {

struct Image {
  int width = 0, height = 0;
  std::vector<std::uint8_t> rgb;  // row-major, 3 bytes per pixel

  std::uint8_t at(int x, int y, int channel) const {
    return rgb[(static_cast<std::size_t>(y) * width + x) * 3 + channel];
  }
};

// Pillow's limit (Image.MAX_IMAGE_PIXELS, beyond twice which it raises DecompressionBombError):
// what LLaVA's pipeline would decode, acsweep decodes; the size is read from the header first.
constexpr std::uint64_t kMaxImagePixels = 2 * 89478485ull;
// A file larger than such an image would be even stored raw, in 16 bits per channel with alpha.
constexpr std::uint64_t kMaxImageFileBytes = 8 * kMaxImagePixels;

// JPEG (grey and CMYK too) or PNG (grey and alpha images become RGB), each as Pillow's
// convert("RGB") gives it. A missing, unreadable or corrupt file, another format, or one of more
// than kMaxImagePixels pixels, is an InputError naming the file and what is wrong.
Image decode_image(const std::string& path);
// The same from the file's bytes in memory (an image embedded in a dataset's table); `path`
// names it in errors.
Image decode_image(const std::vector<unsigned char>& bytes, const std::string& path);

// Pillow's resampling filters, by the numbers Hugging Face configs use for them.
enum class Resample { bilinear = 2, bicubic = 3 };

// Pillow's Image.resize(size, filter): antialiased when shrinking, 8-bit rounding after the
// horizontal pass, then the vertical one.
Image resize(const Image& image, int width, int height, Resample filter);

// The width x height window whose top-left corner is (left, top); parts outside the image are
// filled with `fill`.
Image crop(const Image& image, int left, int top, int width, int height, std::array<std::uint8_t, 3> fill);

}  // namespace acsweep::data
