#pragma once
// The geometry of image preprocessing: where a pixel of the original image lands in the model's
// input and back. CLIP-style processors resize the shortest edge and center-crop; LLaVA's "pad"
// mode pads to a square with the mean colour, then resizes. The C score maps keypoints through
// this object both ways, so a predicted point lands in the original image's pixels.
#include <array>

namespace acsweep::data {

struct ImageTransform {
  double scale = 1.0;                 // input pixels per original pixel
  double offset_x = 0, offset_y = 0;  // input = original * scale + offset
  int input_width = 0, input_height = 0;

  std::array<double, 2> to_input(double x, double y) const {
    return {x * scale + offset_x, y * scale + offset_y};
  }
  std::array<double, 2> to_original(double u, double v) const {
    return {(u - offset_x) / scale, (v - offset_y) / scale};
  }

  // Resize so the shorter side is `shortest_edge`, then crop the central crop x crop square.
  static ImageTransform resize_and_center_crop(int width, int height, int shortest_edge, int crop);
  // Pad to a square (the image centred), then resize the square to size x size.
  static ImageTransform pad_to_square(int width, int height, int size);
};

// Feature cells of a grid_w x grid_h map laid over the input: the cell a point falls in
// (clamped to the grid) and a cell's centre.
std::array<int, 2> cell_of(const ImageTransform& t, int grid_w, int grid_h, double x, double y);
std::array<double, 2> cell_centre_in_original(const ImageTransform& t, int grid_w, int grid_h, int cx,
                                              int cy);

}  // namespace acsweep::data
