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

// JPEG (grey and CMYK too) or PNG (grey and alpha images become RGB), each as Pillow's
// convert("RGB") gives it. A missing, unreadable or corrupt file is an
// InputError naming the file and what the decoder said.
Image decode_image(const std::string& path);

// Pillow's resampling filters, by the numbers Hugging Face configs use for them.
enum class Resample { bilinear = 2, bicubic = 3 };

// Pillow's Image.resize(size, filter): antialiased when shrinking, 8-bit rounding after the
// horizontal pass, then the vertical one.
Image resize(const Image& image, int width, int height, Resample filter);

// The width x height window whose top-left corner is (left, top); parts outside the image are
// filled with `fill`.
Image crop(const Image& image, int left, int top, int width, int height, std::array<std::uint8_t, 3> fill);

}  // namespace acsweep::data
