#include "acsweep/data/image_transform.hpp"

#include <algorithm>
#include <cmath>

namespace acsweep::data {

ImageTransform ImageTransform::resize_and_center_crop(int width, int height, int shortest_edge, int crop) {
  ImageTransform t;
  t.scale = static_cast<double>(shortest_edge) / std::min(width, height);
  // The resized size, rounded as image libraries round it, then the crop's top-left corner.
  const double resized_w = std::round(width * t.scale), resized_h = std::round(height * t.scale);
  t.offset_x = -std::floor((resized_w - crop) / 2.0);
  t.offset_y = -std::floor((resized_h - crop) / 2.0);
  t.input_width = t.input_height = crop;
  return t;
}

ImageTransform ImageTransform::pad_to_square(int width, int height, int size) {
  ImageTransform t;
  const int side = std::max(width, height);
  t.scale = static_cast<double>(size) / side;
  t.offset_x = (side - width) / 2 * t.scale;  // integer padding on the left/top, as LLaVA's expand2square
  t.offset_y = (side - height) / 2 * t.scale;
  t.input_width = t.input_height = size;
  return t;
}

std::array<int, 2> cell_of(const ImageTransform& t, int grid_w, int grid_h, double x, double y) {
  const auto [u, v] = t.to_input(x, y);
  const int cx = static_cast<int>(std::floor(u * grid_w / t.input_width));
  const int cy = static_cast<int>(std::floor(v * grid_h / t.input_height));
  return {std::clamp(cx, 0, grid_w - 1), std::clamp(cy, 0, grid_h - 1)};  // points cropped away: the border
}

std::array<double, 2> cell_centre_in_original(const ImageTransform& t, int grid_w, int grid_h, int cx,
                                              int cy) {
  return t.to_original((cx + 0.5) * t.input_width / grid_w, (cy + 0.5) * t.input_height / grid_h);
}

}  // namespace acsweep::data
