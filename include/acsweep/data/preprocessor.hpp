#pragma once
// Image preprocessing as a Hugging Face preprocessor_config.json describes it (CLIPImageProcessor,
// SiglipImageProcessor, BitImageProcessor for DINOv2): resize (shortest edge, or to a fixed
// height x width), center crop, rescale, normalise with the config's mean and std; plus LLaVA's
// pad-to-square with the mean colour as an option of the job. The result carries the exact
// geometric transform so keypoints can be mapped through it.
#include <array>
#include <string>
#include <vector>

#include "acsweep/data/image.hpp"
#include "acsweep/data/image_transform.hpp"

namespace acsweep::data {

struct PreprocessedImage {
  int width = 0, height = 0;
  std::vector<float> pixels;  // [3, height, width], normalised
  ImageTransform transform;   // original pixels -> input pixels
};

struct ImagePreprocessor {
  bool do_resize = true;
  Resample resample = Resample::bicubic;
  int shortest_edge = 0;                    // resize so the shorter side is this, keeping the aspect ratio
  int resize_width = 0, resize_height = 0;  // or to exactly this size (when shortest_edge is 0)
  bool do_center_crop = false;
  int crop_width = 0, crop_height = 0;
  bool pad_to_square = false;  // LLaVA's image_aspect_ratio = pad, before everything else
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::array<double, 3> image_mean{0.48145466, 0.4578275, 0.40821073};  // CLIP's
  std::array<double, 3> image_std{0.26862954, 0.26130258, 0.27577711};

  PreprocessedImage apply(const Image& image) const { return normalise(geometry(image)); }
  // The two halves of apply: pad, resize and crop (8-bit, with the transform), then rescale and
  // normalise. Encoder combinations feed one member's geometry to the others.
  struct Geometry {
    Image image;
    ImageTransform transform;
  };
  Geometry geometry(const Image& image) const;
  PreprocessedImage normalise(const Geometry& geometry) const;
  // The input size every image ends up with (throws when it depends on the image: no crop, and
  // a shortest-edge resize).
  std::array<int, 2> input_size() const;
};

// Reads a preprocessor_config.json. Unsupported resampling filters, missing sizes and values of
// the wrong type are InputErrors naming the file and the key.
ImagePreprocessor read_preprocessor_config(const std::string& path);

}  // namespace acsweep::data
