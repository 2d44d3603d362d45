// Image preprocessing per core: JPEG decode, Pillow-exact resize, the steps after decoding
// (resize, crop, rescale and normalise) and the whole path a loader runs per image (decode and
// those steps), each today's against the previous implementation, kept below as the baseline.
// bench/preprocess_vs_pillow.py writes the images, times Pillow and NumPy on the same ones and prints the
// ratios.
//   bench_preprocess CONFIG WIDTH HEIGHT IMAGE...  ->  one JSON line per image: seconds per step
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "acsweep/data/image.hpp"
#include "acsweep/data/preprocessor.hpp"
#include "best_of.hpp"

namespace {

using acsweep::data::Image;
using acsweep::data::Resample;

// The resize as it stood before the separable rewrite (commit a11e337): the same numbers, one
// output value at a time in 64 bits, coefficients in a vector per output.
Image previous_resize(const Image& image, int width, int height, Resample filter) {
  constexpr int precision_bits = 32 - 8 - 2;
  auto pass = [&](const Image& in, int out_size, bool horizontal) {
    const int in_size = horizontal ? in.width : in.height;
    const double scale = static_cast<double>(in_size) / out_size, filter_scale = std::max(scale, 1.0);
    const double support = (filter == Resample::bilinear ? 1.0 : 2.0) * filter_scale;
    std::vector<int> first(static_cast<std::size_t>(out_size));
    std::vector<std::vector<std::int32_t>> weights(static_cast<std::size_t>(out_size));
    for (int o = 0; o < out_size; ++o) {
      const double centre = (o + 0.5) * scale;
      const int lo = std::max(static_cast<int>(centre - support + 0.5), 0);
      const int hi = std::min(static_cast<int>(centre + support + 0.5), in_size);
      std::vector<double> w;
      double total = 0;
      for (int x = lo; x < hi; ++x) {
        double t = std::fabs((x - centre + 0.5) / filter_scale);
        if (filter == Resample::bilinear)
          t = t < 1.0 ? 1.0 - t : 0.0;
        else
          t = t < 1.0   ? (1.5 * t - 2.5) * t * t + 1.0
              : t < 2.0 ? (((t - 5.0) * t + 8.0) * t - 4.0) * -0.5
                        : 0.0;
        w.push_back(t);
        total += t;
      }
      for (double k : w) {
        if (total != 0.0) k /= total;
        const double scaled = k * (1 << precision_bits);
        weights[static_cast<std::size_t>(o)].push_back(
            static_cast<std::int32_t>(k < 0 ? scaled - 0.5 : scaled + 0.5));
      }
      first[static_cast<std::size_t>(o)] = lo;
    }
    Image out{horizontal ? out_size : in.width, horizontal ? in.height : out_size, {}};
    out.rgb.resize(static_cast<std::size_t>(out.width) * out.height * 3);
    for (int y = 0; y < out.height; ++y)
      for (int x = 0; x < out.width; ++x) {
        const int o = horizontal ? x : y;
        const auto& w = weights[static_cast<std::size_t>(o)];
        for (int ch = 0; ch < 3; ++ch) {
          std::int64_t sum = std::int64_t{1} << (precision_bits - 1);
          for (std::size_t k = 0; k < w.size(); ++k) {
            const int i = first[static_cast<std::size_t>(o)] + static_cast<int>(k);
            sum += static_cast<std::int64_t>(horizontal ? in.at(i, y, ch) : in.at(x, i, ch)) * w[k];
          }
          out.rgb[(static_cast<std::size_t>(y) * out.width + x) * 3 + ch] =
              static_cast<std::uint8_t>(std::clamp<std::int64_t>(sum >> precision_bits, 0, 255));
        }
      }
    return out;
  };
  Image out = image.width == width ? image : pass(image, width, true);
  return out.height == height ? out : pass(out, height, false);
}

// The rest of the previous geometry and normalisation (centre crop pixel by pixel, rescale in
// double per value), for the whole path's baseline. No padding: the bench's config has none.
std::vector<float> previous_preprocess(const acsweep::data::ImagePreprocessor& p, const Image& original) {
  using namespace acsweep::data;
  const auto [w, h] = p.shortest_edge > 0
                          ? shortest_edge_size(original.width, original.height, p.shortest_edge)
                          : std::array<int, 2>{p.resize_width, p.resize_height};
  Image image = previous_resize(original, w, h, p.resample);
  if (p.do_center_crop) {
    const int left = centred_start(image.width, p.crop_width),
              top = centred_start(image.height, p.crop_height);
    Image out{p.crop_width, p.crop_height, {}};
    out.rgb.resize(static_cast<std::size_t>(out.width) * out.height * 3);
    for (int y = 0; y < out.height; ++y)
      for (int x = 0; x < out.width; ++x) {
        const int sx = left + x, sy = top + y;
        const bool inside = sx >= 0 && sy >= 0 && sx < image.width && sy < image.height;
        for (int ch = 0; ch < 3; ++ch)
          out.rgb[(static_cast<std::size_t>(y) * out.width + x) * 3 + ch] = inside ? image.at(sx, sy, ch) : 0;
      }
    image = out;
  }
  const std::size_t plane = static_cast<std::size_t>(image.width) * image.height;
  std::vector<float> pixels(3 * plane);
  for (std::size_t c = 0; c < 3; ++c) {
    const float mean = static_cast<float>(p.image_mean[c]), std = static_cast<float>(p.image_std[c]);
    for (std::size_t i = 0; i < plane; ++i) {
      const double v = image.rgb[i * 3 + c];
      float x = static_cast<float>(p.do_rescale ? v * p.rescale_factor : v);
      if (p.do_normalize) x = (x - mean) / std;
      pixels[c * plane + i] = x;
    }
  }
  return pixels;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace acsweep::data;
  if (argc < 5) {
    std::fprintf(stderr, "usage: bench_preprocess CONFIG WIDTH HEIGHT IMAGE...\n");
    return 2;
  }
  const ImagePreprocessor preprocessor = read_preprocessor_config(argv[1]);
  const int width = std::stoi(argv[2]), height = std::stoi(argv[3]);
  constexpr int repeats = 20;
  for (int i = 4; i < argc; ++i) {
    const std::string path = argv[i];
    Image image;
    const double decode = best_seconds(repeats, [&] { image = decode_image(path); });
    Image now, before;
    const double resized =
        best_seconds(repeats, [&] { now = resize(image, width, height, preprocessor.resample); });
    const double previous =
        best_seconds(repeats, [&] { before = previous_resize(image, width, height, preprocessor.resample); });
    std::size_t differing = 0;  // Pillow multiplies by 1/scale where the previous code divided
    for (std::size_t b = 0; b < now.rgb.size(); ++b) differing += now.rgb[b] != before.rgb[b];
    PreprocessedImage today;
    std::vector<float> earlier;
    const double whole = best_seconds(repeats, [&] { today = preprocessor.apply(decode_image(path)); });
    const double whole_previous =
        best_seconds(repeats, [&] { earlier = previous_preprocess(preprocessor, decode_image(path)); });
    const double steps = best_seconds(repeats, [&] { today = preprocessor.apply(image); });
    const double steps_previous =
        best_seconds(repeats, [&] { earlier = previous_preprocess(preprocessor, image); });
    if (today.pixels != earlier) {
      std::fprintf(stderr, "%s: today's preprocessing differs from the previous one\n", path.c_str());
      return 1;
    }
    std::printf("%s\n", nlohmann::json({{"image", path},
                                        {"width", image.width},
                                        {"height", image.height},
                                        {"decode_s", decode},
                                        {"resize_s", resized},
                                        {"resize_previous_s", previous},
                                        {"preprocess_s", whole},
                                        {"preprocess_previous_s", whole_previous},
                                        {"steps_s", steps},
                                        {"steps_previous_s", steps_previous},
                                        {"bytes_differing_from_previous", differing}})
                            .dump()
                            .c_str());
  }
  return 0;
}
