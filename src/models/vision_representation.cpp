#include "acsweep/models/vision_representation.hpp"

#include <stdexcept>
#include <string>

namespace acsweep::models {

VisionRepresentation::VisionRepresentation(std::vector<std::unique_ptr<VisionEncoder>> members)
    : members_(std::move(members)) {
  if (members_.empty()) throw std::invalid_argument("a vision representation needs at least one encoder");
  for (std::size_t i = 1; i < members_.size(); ++i)
    members_[i]->preprocessor().input_size();  // fixed sizes only
}

std::int64_t VisionRepresentation::channels() const {
  std::int64_t c = 0;
  for (const auto& m : members_) c += m->channels();
  return c;
}

std::int64_t VisionRepresentation::visual_token_count() {
  if (visual_tokens_ == 0) {
    torch::NoGradGuard no_grad;
    const auto grid = encode({data::Image{1, 1, {0, 0, 0}}}).features;
    visual_tokens_ = grid.size(2) * grid.size(3);
  }
  return visual_tokens_;
}

void VisionRepresentation::to(torch::Device device) {
  for (auto& m : members_) m->to(device);
  device_ = device;
}

VisionRepresentation::Encoded VisionRepresentation::encode(const std::vector<data::Image>& images,
                                                           Aspect aspect) {
  return encode(prepare(images, aspect));
}

VisionRepresentation::Prepared VisionRepresentation::prepare(const std::vector<data::Image>& images,
                                                             Aspect aspect) const {
  auto lead = members_.front()->preprocessor();  // the geometry: the first member's (header)
  if (aspect == Aspect::original) lead.pad_to_square = false;
  std::vector<data::ImagePreprocessor::Geometry> geometry;
  Prepared out;
  for (const auto& image : images) {
    geometry.push_back(lead.geometry(image));
    out.transforms.push_back(geometry.back().transform);
  }
  for (std::size_t m = 0; m < members_.size(); ++m) {
    const auto& p = members_[m]->preprocessor();
    std::vector<data::PreprocessedImage> inputs;
    for (const auto& g : geometry) {
      if (m == 0) {
        inputs.push_back(p.normalise(g));
        continue;
      }
      const auto [w, h] = p.input_size();
      inputs.push_back(p.normalise({data::resize(g.image, w, h, p.resample), g.transform.then_resize(w, h)}));
    }
    out.pixels.push_back(pixel_batch(inputs));
  }
  return out;
}

VisionRepresentation::Encoded VisionRepresentation::encode(const Prepared& prepared) {
  if (prepared.pixels.size() != members_.size())
    throw std::invalid_argument("VisionRepresentation::encode: pixels prepared for " +
                                std::to_string(prepared.pixels.size()) + " encoders, not " +
                                std::to_string(members_.size()));
  std::vector<torch::Tensor> grids;
  std::int64_t gh = 0, gw = 0;
  for (std::size_t m = 0; m < members_.size(); ++m) {
    grids.push_back(members_[m]->features(prepared.pixels[m].to(device_)));
    gh = std::max(gh, grids.back().size(2));
    gw = std::max(gw, grids.back().size(3));
  }
  for (auto& g : grids)
    if (g.size(2) != gh || g.size(3) != gw) g = torch::upsample_bilinear2d(g, {gh, gw}, false);
  Encoded out;
  out.features = grids.size() == 1 ? grids.front() : torch::cat(grids, 1);
  out.transforms = prepared.transforms;
  return out;
}

}  // namespace acsweep::models
