#pragma once
// The C score (shared/spec/LAW.md, "C score"): for each source keypoint, the source feature at
// its cell is compared (cosine) with every target feature; the best target cell's centre,
// mapped back to target pixels, is the prediction; it is correct when closer to the annotated
// point than alpha * max(h, w) of the target box (strictly).
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "acsweep/data/image_transform.hpp"
#include "acsweep/data/spair.hpp"
#include "acsweep/models/vision_representation.hpp"

namespace acsweep::scores {

struct PairMatch {
  std::vector<data::Point> predicted;  // in target pixels
  std::vector<bool> correct;
  std::string skipped;  // why the pair was left out (an image that does not decode); empty: scored
};

// source, target: [C, H, W] feature maps of the two preprocessed images.
PairMatch match_keypoints(const torch::Tensor& source, const torch::Tensor& target,
                          const data::KeypointPair& pair, const data::ImageTransform& source_transform,
                          const data::ImageTransform& target_transform, double alpha = 0.1);

struct CorrespondenceScore {
  double pck_keypoints = 0;                        // percent of all keypoints (LAW.md's C)
  double pck_per_pair = 0;                         // percent per pair, averaged over pairs
  std::map<std::string, double> pck_per_category;  // percent of the category's keypoints
  std::size_t keypoints = 0, pairs = 0;
};

// Over the pairs that were scored (`skipped` empty); InputError when none was.
CorrespondenceScore summarise(const std::vector<data::KeypointPair>& pairs,
                              const std::vector<PairMatch>& matches);

struct CorrespondenceOptions {
  double alpha = 0.1;
  bool upsample = false;           // match on the grid upsampled (bilinear) to the input's pixels
  std::size_t loader_threads = 0;  // threads decoding and preprocessing the next pairs' images
};

struct CorrespondenceResult {
  std::vector<PairMatch> matches;  // per pair, in order
  CorrespondenceScore summary;
};

// The C score of a representation on keypoint pairs: both images through the representation,
// every source keypoint matched, predictions mapped back through each image's exact transform. A
// pair with an image that does not decode is left out, with why in its match.
CorrespondenceResult score_correspondence(models::VisionRepresentation& representation,
                                          const std::vector<data::KeypointPair>& pairs,
                                          const CorrespondenceOptions& options);

}  // namespace acsweep::scores
