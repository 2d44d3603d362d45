#include "acsweep/data/image_transform.hpp"

#include <algorithm>
#include <cmath>

namespace acsweep::data {

ImageTransform ImageTransform::then_resize(int width, int height) const {
  const double sx = static_cast<double>(width) / input_width, sy = static_cast<double>(height) / input_height;
  return {scale_x * sx, scale_y * sy, offset_x * sx, offset_y * sy, width, height};
}

ImageTransform ImageTransform::then_crop(int left, int top, int width, int height) const {
  return {scale_x, scale_y, offset_x - left, offset_y - top, width, height};
}

std::array<int, 2> shortest_edge_size(int width, int height, int shortest_edge) {
  const auto long_side = [&](int shorter, int longer) {
    return static_cast<int>(static_cast<double>(shortest_edge) * longer / shorter);  // int(), as Python
  };
  return width <= height ? std::array<int, 2>{shortest_edge, long_side(width, height)}
                         : std::array<int, 2>{long_side(height, width), shortest_edge};
}

int centred_start(int size, int window) {
  const int d = size - window;
  return d >= 0 ? d / 2 : -((-d + 1) / 2);  // Python's floor division
}

ImageTransform ImageTransform::resize_and_center_crop(int width, int height, int shortest_edge, int crop) {
  const auto [w, h] = shortest_edge_size(width, height, shortest_edge);
  return identity(width, height)
      .then_resize(w, h)
      .then_crop(centred_start(w, crop), centred_start(h, crop), crop, crop);
}

ImageTransform ImageTransform::pad_to_square(int width, int height, int size) {
  const int side = std::max(width, height);
  return identity(width, height)
      .then_crop(-(side - width) / 2, -(side - height) / 2, side, side)
      .then_resize(size, size);
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
