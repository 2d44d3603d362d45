#include "acsweep/data/image.hpp"

#include <jerror.h>
#include <jpeglib.h>

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
#include "acsweep/path_checks.hpp"
#include "png.hpp"

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
  if (!is_file(path)) throw InputError(path + ": image not found");
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
  // The header first: a PNG of a few hundred kilobytes can declare gigapixels. Its IHDR is read
  // here (stb refuses some large sizes itself, with a message that names no size).
  const unsigned char png_signature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (bytes.size() < 24 || !std::equal(std::begin(png_signature), std::end(png_signature), bytes.begin()))
    throw InputError(path + ": cannot decode image (neither a JPEG nor a PNG file)");
  std::uint64_t declared_width = 0, declared_height = 0;
  for (std::size_t b = 0; b < 4; ++b) {
    declared_width = declared_width << 8 | bytes[16 + b];
    declared_height = declared_height << 8 | bytes[20 + b];
  }
  if (const std::string bomb = too_many_pixels(path, declared_width, declared_height); !bomb.empty())
    throw InputError(bomb);
  return detail::decode_png(bytes, path);
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

// For each output position: the first input index, how many inputs it reads, and their fixed-point
// weights, in one flat table of `taps` weights per output (zeros past an output's count).
struct Coefficients {
  int taps = 0;
  std::vector<int> first, count;
  std::vector<std::int32_t> weights;
};

Coefficients coefficients(int in_size, int out_size, Resample filter) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);  // widen the kernel when shrinking: antialiasing
  const double support = filter_support(filter) * filter_scale;
  const double inverse_scale = 1.0 / filter_scale;  // Pillow multiplies by it rather than divide
  Coefficients c;
  c.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  const auto n = static_cast<std::size_t>(out_size);
  c.first.resize(n);
  c.count.resize(n);
  c.weights.assign(n * static_cast<std::size_t>(c.taps), 0);
  std::vector<double> w(static_cast<std::size_t>(c.taps));
  for (int out = 0; out < out_size; ++out) {
    const double centre = (out + 0.5) * scale;
    const int lo = std::max(static_cast<int>(centre - support + 0.5), 0);
    const int hi = std::min(static_cast<int>(centre + support + 0.5), in_size);
    const int count = std::min(hi - lo, c.taps);
    double total = 0;
    for (int x = 0; x < count; ++x) {
      w[static_cast<std::size_t>(x)] = filter_value(filter, (x + lo - centre + 0.5) * inverse_scale);
      total += w[static_cast<std::size_t>(x)];
    }
    std::int32_t* fixed = &c.weights[static_cast<std::size_t>(out) * static_cast<std::size_t>(c.taps)];
    for (int x = 0; x < count; ++x) {
      double k = w[static_cast<std::size_t>(x)];
      if (total != 0.0) k /= total;
      const double scaled = k * (1 << precision_bits);
      fixed[x] = static_cast<std::int32_t>(k < 0 ? scaled - 0.5 : scaled + 0.5);
    }
    c.first[static_cast<std::size_t>(out)] = lo;
    c.count[static_cast<std::size_t>(out)] = count;
  }
  return c;
}

// Pillow sums in 32 bits (its precision leaves room for the kernel's negative lobes) and clips.
inline std::uint8_t clip8(std::int32_t sum) {
  return static_cast<std::uint8_t>(std::min(std::max(sum >> precision_bits, 0), 255));
}

constexpr std::int32_t kHalf = std::int32_t{1} << (precision_bits - 1);

// The vertical pass's two loops, kept apart so the compiler sees no aliasing and vectorises them
// (bytes widened, multiplied and added sixteen at a time), with a copy for AVX2 chosen at run time.
__attribute__((target_clones("avx2", "default"))) void accumulate_row(std::int32_t* __restrict acc,
                                                                      const std::uint8_t* __restrict src,
                                                                      std::int32_t weight, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) acc[j] += src[j] * weight;
}

__attribute__((target_clones("avx2", "default"))) void clip_row(std::uint8_t* __restrict dst,
                                                                const std::int32_t* __restrict acc,
                                                                std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) dst[j] = clip8(acc[j]);
}

// Along y: each output row is a weighted sum of whole input rows, accumulated in one 32-bit row
// that the compiler vectorises (bytes widened, multiplied and added across the row).
Image vertical_pass(const Image& in, int out_height, Resample filter) {
  const Coefficients c = coefficients(in.height, out_height, filter);
  Image out{in.width, out_height, {}};
  const auto row = static_cast<std::size_t>(in.width) * 3;
  out.rgb.resize(row * static_cast<std::size_t>(out_height));
  std::vector<std::int32_t> acc(row);
  for (int y = 0; y < out_height; ++y) {
    std::fill(acc.begin(), acc.end(), kHalf);
    const std::int32_t* w = &c.weights[static_cast<std::size_t>(y) * static_cast<std::size_t>(c.taps)];
    for (int k = 0, n = c.count[static_cast<std::size_t>(y)]; k < n; ++k)
      accumulate_row(acc.data(),
                     in.rgb.data() + static_cast<std::size_t>(c.first[static_cast<std::size_t>(y)] + k) * row,
                     w[k], row);
    clip_row(out.rgb.data() + static_cast<std::size_t>(y) * row, acc.data(), row);
  }
  return out;
}

// Rows become columns, in tiles that stay in cache on both sides.
Image transposed(const Image& in) {
  Image out{in.height, in.width, {}};
  out.rgb.resize(in.rgb.size());
  constexpr int tile = 16;
  for (int y0 = 0; y0 < in.height; y0 += tile)
    for (int x0 = 0; x0 < in.width; x0 += tile)
      for (int y = y0, y1 = std::min(y0 + tile, in.height); y < y1; ++y)
        for (int x = x0, x1 = std::min(x0 + tile, in.width); x < x1; ++x)
          std::memcpy(&out.rgb[(static_cast<std::size_t>(x) * out.width + y) * 3],
                      &in.rgb[(static_cast<std::size_t>(y) * in.width + x) * 3], 3);
  return out;
}

// Along x: the vertical pass on the transposed image, whose rows are then contiguous; the same
// sums in the same order, so the same bytes as a pass along x.
Image horizontal_pass(const Image& in, int out_width, Resample filter) {
  return transposed(vertical_pass(transposed(in), out_width, filter));
}

}  // namespace

Image resize(const Image& image, int width, int height, Resample filter) {
  if (width <= 0 || height <= 0)
    throw std::invalid_argument("resize to " + std::to_string(width) + "x" + std::to_string(height));
  // Pillow (up to 12) resizes horizontally first, except an image more than 100 times taller than
  // wide that shrinks in height: that one goes vertically first.
  if (image.height > image.width * 100 && height < image.height) {
    Image out = vertical_pass(image, height, filter);
    return out.width == width ? out : horizontal_pass(out, width, filter);
  }
  if (image.width == width) return image.height == height ? image : vertical_pass(image, height, filter);
  Image out = horizontal_pass(image, width, filter);
  return out.height == height ? out : vertical_pass(out, height, filter);
}

Image crop(const Image& image, int left, int top, int width, int height, std::array<std::uint8_t, 3> fill) {
  Image out{width, height, {}};
  out.rgb.resize(static_cast<std::size_t>(width) * height * 3);
  for (std::size_t i = 0; i < out.rgb.size(); i += 3)
    std::copy(fill.begin(), fill.end(), out.rgb.begin() + i);
  // The columns and rows of the window that lie inside the image, copied row by row.
  const int x0 = std::max(left, 0), x1 = std::min(left + width, image.width);
  const int y0 = std::max(top, 0), y1 = std::min(top + height, image.height);
  if (x0 >= x1) return out;
  const auto span = static_cast<std::size_t>(x1 - x0) * 3;
  for (int sy = y0; sy < y1; ++sy)
    std::memcpy(&out.rgb[(static_cast<std::size_t>(sy - top) * width + (x0 - left)) * 3],
                &image.rgb[(static_cast<std::size_t>(sy) * image.width + x0) * 3], span);
  return out;
}

}  // namespace acsweep::data
