#pragma once
// The geometry of image preprocessing: where a pixel of the original image lands in the model's
// input and back. Every step of a preprocessor (pad, resize, crop) is a per-axis scale and an
// offset, so their composition is too. The C score maps keypoints through this object both
// ways, so a predicted point lands in the original image's pixels. Coordinates are continuous:
// pixel (i, j) covers [i, i+1) x [j, j+1), as in Pillow's resampling.
#include <array>

namespace acsweep::data {

struct ImageTransform {
  double scale_x = 1.0, scale_y = 1.0;  // input pixels per original pixel
  double offset_x = 0, offset_y = 0;    // input = original * scale + offset
  int input_width = 0, input_height = 0;

  std::array<double, 2> to_input(double x, double y) const {
    return {x * scale_x + offset_x, y * scale_y + offset_y};
  }
  std::array<double, 2> to_original(double u, double v) const {
    return {(u - offset_x) / scale_x, (v - offset_y) / scale_y};
  }

  static ImageTransform identity(int width, int height) { return {1.0, 1.0, 0.0, 0.0, width, height}; }
  // The steps, each applied after what the transform already does.
  ImageTransform then_resize(int width, int height) const;
  ImageTransform then_crop(int left, int top, int width, int height) const;  // window's corner

  // Hugging Face's resize of the shortest edge (the long side truncated, as transformers does),
  // then the central crop x crop window.
  static ImageTransform resize_and_center_crop(int width, int height, int shortest_edge, int crop);
  // LLaVA's expand2square (the image centred, integer padding left/top), then a resize to size.
  static ImageTransform pad_to_square(int width, int height, int size);
};

// The size Hugging Face's processors resize to so the shorter side is `shortest_edge`.
std::array<int, 2> shortest_edge_size(int width, int height, int shortest_edge);
// The top-left corner of a centred window (floor division, as transformers' center_crop).
int centred_start(int size, int window);

// Feature cells of a grid_w x grid_h map laid over the input: the cell a point falls in
// (clamped to the grid) and a cell's centre.
std::array<int, 2> cell_of(const ImageTransform& t, int grid_w, int grid_h, double x, double y);
std::array<double, 2> cell_centre_in_original(const ImageTransform& t, int grid_w, int grid_h, int cx,
                                              int cy);

}  // namespace acsweep::data
