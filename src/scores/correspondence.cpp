#include "acsweep/scores/correspondence.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "acsweep/data/image.hpp"
#include "acsweep/data/prefetcher.hpp"
#include "acsweep/error.hpp"

namespace acsweep::scores {
namespace {

// Columns scaled to unit length, so that dot products are cosine similarities.
torch::Tensor unit_columns(const torch::Tensor& m) {
  const auto x = m.to(torch::kFloat32);
  return x / x.norm(2, {0}, true).clamp_min(1e-12);
}

}  // namespace

PairMatch match_keypoints(const torch::Tensor& source, const torch::Tensor& target,
                          const data::KeypointPair& pair, const data::ImageTransform& source_transform,
                          const data::ImageTransform& target_transform, double alpha) {
  if (source.dim() != 3 || target.dim() != 3 || source.size(0) != target.size(0))
    throw std::invalid_argument("match_keypoints: feature maps must be [C, H, W] with the same C");
  const int sw = static_cast<int>(source.size(2)), sh = static_cast<int>(source.size(1));
  const int tw = static_cast<int>(target.size(2)), th = static_cast<int>(target.size(1));
  const auto target_unit = unit_columns(target.reshape({target.size(0), -1}));  // [C, H*W]
  const double threshold =
      alpha * std::max(pair.target_box[2] - pair.target_box[0], pair.target_box[3] - pair.target_box[1]);

  // Every keypoint's source feature at once: [K, C] against [C, H*W].
  std::vector<std::int64_t> flat;
  for (const auto& p : pair.source_points) {
    const auto [cx, cy] = data::cell_of(source_transform, sw, sh, p[0], p[1]);
    flat.push_back(static_cast<std::int64_t>(cy) * sw + cx);
  }
  const auto queries =
      unit_columns(source.reshape({source.size(0), -1}).index_select(1, torch::tensor(flat))).t();
  const auto best = torch::matmul(queries, target_unit).argmax(1);

  PairMatch out;
  for (std::size_t k = 0; k < pair.source_points.size(); ++k) {
    const auto cell = best[static_cast<long>(k)].item<std::int64_t>();
    const auto predicted = data::cell_centre_in_original(
        target_transform, tw, th, static_cast<int>(cell % tw), static_cast<int>(cell / tw));
    out.predicted.push_back({predicted[0], predicted[1]});
    const double dx = predicted[0] - pair.target_points[k][0], dy = predicted[1] - pair.target_points[k][1];
    out.correct.push_back(std::sqrt(dx * dx + dy * dy) < threshold);
  }
  return out;
}

CorrespondenceResult score_correspondence(models::VisionRepresentation& representation,
                                          const std::vector<data::KeypointPair>& pairs,
                                          const CorrespondenceOptions& options) {
  torch::NoGradGuard frozen;
  CorrespondenceResult out;
  // Each pair's two images decoded and preprocessed ahead on the loader's threads; one image at a
  // time, as a preprocessor without a crop keeps each image's own size and grid. A damaged image
  // leaves its pair out and the score goes on.
  struct PreparedPair {
    models::VisionRepresentation::Prepared source, target;
    std::string skipped;
  };
  data::Prefetcher<PreparedPair> loader(
      pairs.size(),
      [&](std::size_t i) {
        PreparedPair p;
        try {
          p.source = representation.prepare({data::decode_image(pairs[i].source_image)});
          p.target = representation.prepare({data::decode_image(pairs[i].target_image)});
        } catch (const InputError& e) {
          p.skipped = e.what();
        }
        return p;
      },
      options.loader_threads);
  const auto features_of = [&](const models::VisionRepresentation::Prepared& prepared) {
    const auto encoded = representation.encode(prepared);
    const auto& transform = encoded.transforms[0];
    auto grid = encoded.features;
    if (options.upsample)
      grid = torch::upsample_bilinear2d(grid, {transform.input_height, transform.input_width}, false);
    return grid.to(torch::kCPU)[0];
  };
  for (const auto& pair : pairs) {
    const PreparedPair prepared = loader.next();
    if (!prepared.skipped.empty()) {
      PairMatch left_out;
      left_out.skipped = prepared.skipped;
      out.matches.push_back(std::move(left_out));
      continue;
    }
    const auto& source_transform = prepared.source.transforms[0];
    const auto& target_transform = prepared.target.transforms[0];
    const auto source = features_of(prepared.source), target = features_of(prepared.target);
    out.matches.push_back(
        match_keypoints(source, target, pair, source_transform, target_transform, options.alpha));
  }
  out.summary = summarise(pairs, out.matches);
  return out;
}

CorrespondenceScore summarise(const std::vector<data::KeypointPair>& pairs,
                              const std::vector<PairMatch>& matches) {
  if (pairs.size() != matches.size() || pairs.empty())
    throw std::invalid_argument("summarise: one match per pair, at least one pair");
  CorrespondenceScore s;
  std::map<std::string, std::pair<std::size_t, std::size_t>> by_category;  // correct, all
  std::size_t correct = 0;
  double per_pair = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (!matches[i].skipped.empty()) continue;
    const auto hits =
        static_cast<std::size_t>(std::count(matches[i].correct.begin(), matches[i].correct.end(), true));
    correct += hits;
    s.keypoints += matches[i].correct.size();
    per_pair += 100.0 * hits / matches[i].correct.size();
    by_category[pairs[i].category].first += hits;
    by_category[pairs[i].category].second += matches[i].correct.size();
  }
  s.pairs = static_cast<std::size_t>(
      std::count_if(matches.begin(), matches.end(), [](const PairMatch& m) { return m.skipped.empty(); }));
  if (s.pairs == 0) throw InputError("no keypoint pair could be scored: " + matches.front().skipped);
  s.pck_keypoints = 100.0 * correct / s.keypoints;
  s.pck_per_pair = per_pair / s.pairs;
  for (const auto& [category, counts] : by_category)
    s.pck_per_category[category] = 100.0 * counts.first / counts.second;
  return s;
}

}  // namespace acsweep::scores
