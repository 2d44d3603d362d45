#pragma once
// A setting's vision representation: one encoder, or a combination of several whose feature
// grids are resized (bilinear) to a common grid and concatenated along channels, in list order.
//  - The common grid is the finest among the members, per axis, so no member loses resolution.
//  - The geometry is the first member's: its pad/resize/crop decides what part of the image is
//    seen; every other member gets that same 8-bit image resized (with its own filter) to its own
//    input size and normalised with its own mean and std. So a cell of the common grid covers the
//    same pixels in every member, and one transform maps keypoints for all of them.
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "acsweep/data/image.hpp"
#include "acsweep/data/image_transform.hpp"
#include "acsweep/models/vision_encoder.hpp"

namespace acsweep::models {

class VisionRepresentation {
 public:
  explicit VisionRepresentation(std::vector<std::unique_ptr<VisionEncoder>> members);

  struct Encoded {
    torch::Tensor features;                        // [B, C, gh, gw] on the representation's device
    std::vector<data::ImageTransform> transforms;  // original pixels -> the first member's input
  };
  // configured: as the members' preprocessing says (LLaVA's pad to square when the job asks);
  // original: never padded, each image resized and cropped as the processor alone does (lmms-eval's
  // image_aspect_ratio = original, which its ScienceQA, SEED-Bench and MMMU tasks ask for).
  enum class Aspect { configured, original };
  Encoded encode(const std::vector<data::Image>& images, Aspect aspect = Aspect::configured);

  // encode's two halves. prepare runs on the CPU alone and touches no state, so a data loader's
  // threads run it ahead of the training thread; encode then moves the pixels to the device.
  struct Prepared {
    std::vector<torch::Tensor> pixels;             // per member: [B, 3, H, W] float32 on the CPU
    std::vector<data::ImageTransform> transforms;  // per image, as Encoded's
  };
  Prepared prepare(const std::vector<data::Image>& images, Aspect aspect = Aspect::configured) const;
  Encoded encode(const Prepared& prepared);

  std::int64_t channels() const;
  // Cells of the common grid (the LLM's visual tokens per image); found once, by a blank image.
  std::int64_t visual_token_count();
  void to(torch::Device device);
  torch::Device device() const { return device_; }
  std::size_t size() const { return members_.size(); }

 private:
  std::vector<std::unique_ptr<VisionEncoder>> members_;
  torch::Device device_ = torch::kCPU;
  std::int64_t visual_tokens_ = 0;
};

}  // namespace acsweep::models
