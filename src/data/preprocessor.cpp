#include "acsweep/data/preprocessor.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <utility>

#include "acsweep/bounded_read.hpp"
#include "acsweep/error.hpp"

namespace acsweep::data {

ImagePreprocessor::Geometry ImagePreprocessor::geometry(const Image& original) const {
  // `current` is the latest step's image; the original is copied only when no step changes it.
  const Image* current = &original;
  Image image;
  ImageTransform t = ImageTransform::identity(original.width, original.height);
  if (pad_to_square) {  // LLaVA's expand2square: the fill is int(mean * 255)
    const int side = std::max(current->width, current->height);
    const int left = -(side - current->width) / 2, top = -(side - current->height) / 2;
    std::array<std::uint8_t, 3> fill{};
    for (std::size_t c = 0; c < 3; ++c) fill[c] = static_cast<std::uint8_t>(image_mean[c] * 255);
    image = crop(*current, left, top, side, side, fill);
    current = &image;
    t = t.then_crop(left, top, side, side);
  }
  if (do_resize) {
    const auto [w, h] = shortest_edge > 0 ? shortest_edge_size(current->width, current->height, shortest_edge)
                                          : std::array<int, 2>{resize_width, resize_height};
    if (w != current->width || h != current->height) {
      image = resize(*current, w, h, resample);
      current = &image;
    }
    t = t.then_resize(w, h);
  }
  if (do_center_crop) {
    const int left = centred_start(current->width, crop_width),
              top = centred_start(current->height, crop_height);
    if (left != 0 || top != 0 || crop_width != current->width || crop_height != current->height) {
      image = crop(*current, left, top, crop_width, crop_height, {0, 0, 0});
      current = &image;
    }
    t = t.then_crop(left, top, crop_width, crop_height);
  }
  if (current == &original) image = original;
  return {std::move(image), t};
}

PreprocessedImage ImagePreprocessor::normalise(const Geometry& geometry) const {
  const Image& image = geometry.image;
  PreprocessedImage out{image.width, image.height, {}, geometry.transform};
  const std::size_t plane = static_cast<std::size_t>(image.width) * image.height;
  out.pixels.resize(3 * plane);
  // As transformers: rescale in double then float32, normalise in float32. A byte has 256
  // values, so each channel's results are computed once and looked up.
  std::array<std::array<float, 256>, 3> value{};
  for (std::size_t c = 0; c < 3; ++c) {
    const float mean = static_cast<float>(image_mean[c]), std = static_cast<float>(image_std[c]);
    for (std::size_t v = 0; v < 256; ++v) {
      float x =
          static_cast<float>(do_rescale ? static_cast<double>(v) * rescale_factor : static_cast<double>(v));
      if (do_normalize) x = (x - mean) / std;
      value[c][v] = x;
    }
  }
  const std::uint8_t* in = image.rgb.data();
  float *r = out.pixels.data(), *g = r + plane, *b = g + plane;
  for (std::size_t i = 0; i < plane; ++i, in += 3) {
    r[i] = value[0][in[0]];
    g[i] = value[1][in[1]];
    b[i] = value[2][in[2]];
  }
  return out;
}

std::array<int, 2> ImagePreprocessor::input_size() const {
  if (do_center_crop) return {crop_width, crop_height};
  if (do_resize && shortest_edge == 0) return {resize_width, resize_height};
  throw std::logic_error("the preprocessor's output size depends on the image (no center crop)");
}

namespace {

using nlohmann::json;

template <typename T>
T read_key(const json& config, const std::string& key, T fallback, const std::string& path) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  try {
    return config[key].get<T>();
  } catch (const json::exception&) {
    throw InputError(path + ": key '" + key + "' has the wrong type (" + config[key].dump() + ")");
  }
}

// The largest output side a preprocessor may ask for: beyond it a damaged config would make every
// image a tensor of gigabytes (a side of 1e9 was OOM-killed at 24 GB).
constexpr std::int64_t kMaxSide = 16384;

int side_of(const json& v, const std::string& key, const std::string& path) {
  if (!v.is_number_integer())
    throw InputError(path + ": key '" + key + "' must be a whole number of pixels, not " + v.dump());
  if (v.is_number_unsigned() ? v.get<std::uint64_t>() > static_cast<std::uint64_t>(kMaxSide)
                             : v.get<std::int64_t>() > kMaxSide)
    throw InputError(path + ": key '" + key + "' is " + v.dump() + " pixels, more than " +
                     std::to_string(kMaxSide));
  return static_cast<int>(v.get<std::int64_t>());
}

// "size" and "crop_size" come as a number, or {"shortest_edge": n}, or {"height": h, "width": w}.
void read_size(const json& config, const std::string& key, const std::string& path, int& shortest, int& width,
               int& height) {
  const json& v = config.at(key);
  if (v.is_number_integer()) {
    width = height = side_of(v, key, path);
    return;
  }
  if (v.is_object() && v.contains("shortest_edge")) {
    shortest = side_of(v["shortest_edge"], key + ".shortest_edge", path);
    return;
  }
  if (v.is_object() && v.contains("height") && v.contains("width")) {
    height = side_of(v["height"], key + ".height", path);
    width = side_of(v["width"], key + ".width", path);
    return;
  }
  throw InputError(path + ": key '" + key + "' must be a number, {shortest_edge} or {height, width}, not " +
                   v.dump());
}

}  // namespace

ImagePreprocessor read_preprocessor_config(const std::string& path) {
  const std::string text = read_bounded(path, kMaxConfigBytes, "the preprocessor config");
  json config;
  try {
    config = json::parse(text);
  } catch (const json::exception& e) {
    throw InputError(path + ": not valid JSON (" + e.what() + ")");
  }
  if (!config.is_object()) throw InputError(path + ": not a JSON object");
  ImagePreprocessor p;
  p.do_resize = read_key<bool>(config, "do_resize", true, path);
  const int resample = read_key<int>(config, "resample", 3, path);
  if (resample != 2 && resample != 3)
    throw InputError(path + ": key 'resample' is " + std::to_string(resample) +
                     "; supported: 2 (bilinear) and 3 (bicubic)");
  p.resample = static_cast<Resample>(resample);
  if (p.do_resize) {
    if (!config.contains("size")) throw InputError(path + ": key 'size' missing (do_resize is true)");
    read_size(config, "size", path, p.shortest_edge, p.resize_width, p.resize_height);
    if (p.shortest_edge <= 0 && (p.resize_width <= 0 || p.resize_height <= 0))
      throw InputError(path + ": key 'size' must be positive");
  }
  p.do_center_crop = read_key<bool>(config, "do_center_crop", false, path);
  if (p.do_center_crop) {
    if (!config.contains("crop_size")) throw InputError(path + ": key 'crop_size' missing (do_center_crop)");
    int unused = 0;
    read_size(config, "crop_size", path, unused, p.crop_width, p.crop_height);
    if (p.crop_width <= 0 || p.crop_height <= 0)
      throw InputError(path + ": key 'crop_size' must be positive");
  }
  p.do_rescale = read_key<bool>(config, "do_rescale", true, path);
  p.rescale_factor = read_key<double>(config, "rescale_factor", 1.0 / 255.0, path);
  p.do_normalize = read_key<bool>(config, "do_normalize", true, path);
  p.image_mean = read_key<std::array<double, 3>>(config, "image_mean", p.image_mean, path);
  p.image_std = read_key<std::array<double, 3>>(config, "image_std", p.image_std, path);
  for (double s : p.image_std)
    if (!(s > 0)) throw InputError(path + ": key 'image_std' must be positive");
  return p;
}

}  // namespace acsweep::data
