#include "acsweep/data/image.hpp"

#include <jerror.h>
#include <jpeglib.h>
#include <stb_image.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>

#include "acsweep/error.hpp"

namespace acsweep::data {

namespace {

// libjpeg reports a fatal error by calling error_exit, which must not return: it jumps back to
// decode_jpeg with the library's message. No automatic object of decode_jpeg is assigned between
// its setjmp and a jump (the pixels live on the heap behind pointers set before), so all are
// intact after one.
struct JpegErrors {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_fail(j_common_ptr info) {
  auto* errors = reinterpret_cast<JpegErrors*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

// As Pillow: a truncated file is an error ("image file is truncated"); other corrupt-data warnings
// are not, and what decodes is kept.
void jpeg_warning(j_common_ptr info, int level) {
  if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(info);
}

// Pillow's CMYK to RGB (Convert.c cmyk2rgb) after its "CMYK;I" raw mode: Adobe JPEGs store CMYK
// inverted.
std::uint8_t cmyk_channel(std::uint8_t stored_colour, std::uint8_t stored_black) {
  const int colour = 255 - stored_colour, not_black = stored_black;  // 255 - (255 - stored)
  const int product = colour * not_black + 128;
  return static_cast<std::uint8_t>(std::clamp(not_black - (((product >> 8) + product) >> 8), 0, 255));
}

// Empty when an image of width x height pixels may be decoded; else why not, naming the file.
std::string too_many_pixels(const std::string& path, std::uint64_t width, std::uint64_t height) {
  if (width * height <= kMaxImagePixels) return {};
  return path + ": " + std::to_string(width) + " x " + std::to_string(height) + " pixels, more than " +
         std::to_string(kMaxImagePixels) + " (Pillow's decompression-bomb limit): not decoded";
}

// Decodes with libjpeg-turbo's defaults, which are Pillow's (the same library): the accurate
// integer IDCT and fancy chroma upsampling, so the pixels are Pillow's bit for bit.
Image decode_jpeg(const std::string& path, const std::vector<unsigned char>& bytes) {
  jpeg_decompress_struct info{};
  JpegErrors errors{};
  info.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = jpeg_fail;
  errors.manager.emit_message = jpeg_warning;
  const auto image = std::make_unique<Image>();
  const auto row = std::make_unique<std::vector<JSAMPLE>>();
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    throw InputError(path + ": cannot decode image (" + errors.message + ")");
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  if (const std::string bomb = too_many_pixels(path, info.image_width, info.image_height); !bomb.empty()) {
    jpeg_destroy_decompress(&info);
    throw InputError(bomb);
  }
  const bool cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
  info.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(&info);
  const auto width = static_cast<std::size_t>(info.output_width);
  image->width = static_cast<int>(info.output_width);
  image->height = static_cast<int>(info.output_height);
  image->rgb.resize(width * info.output_height * 3);
  if (cmyk) row->resize(width * 4);  // the CMYK scanline before conversion; RGB goes straight in
  while (info.output_scanline < info.output_height) {
    auto* out = image->rgb.data() + info.output_scanline * width * 3;
    JSAMPROW rows[1] = {cmyk ? row->data() : out};
    jpeg_read_scanlines(&info, rows, 1);
    if (!cmyk) continue;
    for (std::size_t x = 0; x < width; ++x)
      for (std::size_t c = 0; c < 3; ++c) out[x * 3 + c] = cmyk_channel((*row)[x * 4 + c], (*row)[x * 4 + 3]);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return std::move(*image);
}

std::vector<unsigned char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.eof() && in.fail()) throw InputError(path + ": cannot read image");
  return bytes;
}

}  // namespace

Image decode_image(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw InputError(path + ": image not found");
  std::error_code error;
  if (const auto size = std::filesystem::file_size(path, error); !error && size > kMaxImageFileBytes)
    throw InputError(path + ": " + std::to_string(size) + " bytes, more than an image of " +
                     std::to_string(kMaxImagePixels) + " pixels needs: not decoded");
  return decode_image(read_bytes(path), path);
}

Image decode_image(const std::vector<unsigned char>& bytes, const std::string& path) {
  if (bytes.size() > kMaxImageFileBytes)
    throw InputError(path + ": " + std::to_string(bytes.size()) + " bytes, more than an image of " +
                     std::to_string(kMaxImagePixels) + " pixels needs: not decoded");
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF)
    return decode_jpeg(path, bytes);
  int width = 0, height = 0, channels = 0;
  // The header first: a PNG of a few hundred kilobytes can declare gigapixels. Its IHDR is read
  // here (stb refuses some large sizes itself, with a message that names no size).
  const unsigned char png_signature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::uint64_t declared_width = 0, declared_height = 0;
  if (bytes.size() >= 24 && std::equal(std::begin(png_signature), std::end(png_signature), bytes.begin())) {
    for (std::size_t b = 0; b < 4; ++b) {
      declared_width = declared_width << 8 | bytes[16 + b];
      declared_height = declared_height << 8 | bytes[20 + b];
    }
  } else if (stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height,
                                   &channels) != 0) {
    declared_width = static_cast<std::uint64_t>(width);
    declared_height = static_cast<std::uint64_t>(height);
  }
  if (const std::string bomb = too_many_pixels(path, declared_width, declared_height); !bomb.empty())
    throw InputError(bomb);
  std::unique_ptr<stbi_uc, decltype(&stbi_image_free)> pixels(
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &width, &height, &channels, 3),
      &stbi_image_free);
  if (!pixels) throw InputError(path + ": cannot decode image (" + stbi_failure_reason() + ")");
  Image image{width, height, {}};
  image.rgb.assign(pixels.get(), pixels.get() + static_cast<std::size_t>(width) * height * 3);
  return image;
}

namespace {

// Pillow's fixed point: coefficients in 22 fractional bits so a sum of 8-bit products fits 32 bits.
constexpr int precision_bits = 32 - 8 - 2;

double filter_value(Resample filter, double x) {
  x = std::fabs(x);
  if (filter == Resample::bilinear) return x < 1.0 ? 1.0 - x : 0.0;
  constexpr double a = -0.5;  // Pillow's bicubic (PyTorch's plain bicubic uses -0.75)
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

double filter_support(Resample filter) { return filter == Resample::bilinear ? 1.0 : 2.0; }

// For each output position: the first input index and the fixed-point weights of the inputs.
struct Coefficients {
  std::vector<int> first;
  std::vector<std::vector<std::int32_t>> weights;
};

Coefficients coefficients(int in_size, int out_size, Resample filter) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);  // widen the kernel when shrinking: antialiasing
  const double support = filter_support(filter) * filter_scale;
  Coefficients c;
  c.first.resize(static_cast<std::size_t>(out_size));
  c.weights.resize(static_cast<std::size_t>(out_size));
  for (int out = 0; out < out_size; ++out) {
    const double centre = (out + 0.5) * scale;
    const int lo = std::max(static_cast<int>(centre - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(centre + support + 0.5), in_size);
    std::vector<double> w;
    double total = 0;
    for (int x = lo; x < hi; ++x) {
      w.push_back(filter_value(filter, (x - centre + 0.5) / filter_scale));
      total += w.back();
    }
    auto& fixed = c.weights[static_cast<std::size_t>(out)];
    for (double k : w) {
      if (total != 0.0) k /= total;
      const double scaled = k * (1 << precision_bits);
      fixed.push_back(static_cast<std::int32_t>(k < 0 ? scaled - 0.5 : scaled + 0.5));
    }
    c.first[static_cast<std::size_t>(out)] = lo;
  }
  return c;
}

std::uint8_t clip8(std::int64_t sum) {
  return static_cast<std::uint8_t>(std::clamp<std::int64_t>(sum >> precision_bits, 0, 255));
}

// One pass along x (horizontal) or y: out(x, y) = sum_k w_k in(first + k, y), rounded to 8 bits.
Image resample_pass(const Image& in, int out_size, Resample filter, bool horizontal) {
  const int in_size = horizontal ? in.width : in.height;
  const Coefficients c = coefficients(in_size, out_size, filter);
  Image out{horizontal ? out_size : in.width, horizontal ? in.height : out_size, {}};
  out.rgb.resize(static_cast<std::size_t>(out.width) * out.height * 3);
  for (int y = 0; y < out.height; ++y)
    for (int x = 0; x < out.width; ++x) {
      const int o = horizontal ? x : y;
      const auto& w = c.weights[static_cast<std::size_t>(o)];
      for (int ch = 0; ch < 3; ++ch) {
        std::int64_t sum = std::int64_t{1} << (precision_bits - 1);
        for (std::size_t k = 0; k < w.size(); ++k) {
          const int i = c.first[static_cast<std::size_t>(o)] + static_cast<int>(k);
          sum += static_cast<std::int64_t>(horizontal ? in.at(i, y, ch) : in.at(x, i, ch)) * w[k];
        }
        out.rgb[(static_cast<std::size_t>(y) * out.width + x) * 3 + ch] = clip8(sum);
      }
    }
  return out;
}

}  // namespace

Image resize(const Image& image, int width, int height, Resample filter) {
  if (width <= 0 || height <= 0)
    throw std::invalid_argument("resize to " + std::to_string(width) + "x" + std::to_string(height));
  // Pillow (up to 12) resizes horizontally first, except an image more than 100 times taller than
  // wide that shrinks in height: that one goes vertically first.
  if (image.height > image.width * 100 && height < image.height) {
    const Image out = resample_pass(image, height, filter, false);
    return out.width == width ? out : resample_pass(out, width, filter, true);
  }
  Image out = image.width == width ? image : resample_pass(image, width, filter, true);
  return out.height == height ? out : resample_pass(out, height, filter, false);
}

Image crop(const Image& image, int left, int top, int width, int height, std::array<std::uint8_t, 3> fill) {
  Image out{width, height, {}};
  out.rgb.resize(static_cast<std::size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const int sx = left + x, sy = top + y;
      const bool inside = sx >= 0 && sy >= 0 && sx < image.width && sy < image.height;
      for (int ch = 0; ch < 3; ++ch)
        out.rgb[(static_cast<std::size_t>(y) * width + x) * 3 + ch] =
            inside ? image.at(sx, sy, ch) : fill[static_cast<std::size_t>(ch)];
    }
  return out;
}

}  // namespace acsweep::data
