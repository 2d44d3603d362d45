#pragma once
// Keypoint pairs of SPair-71k as downloaded: PairAnnotation/{trn,val,test}/*.json and
// JPEGImages/<category>/<image>. Each pair is validated (fields present, equal keypoint counts,
// points inside their image, a box inside its image with positive area, both images present);
// bad pairs are skipped with a message each and counted, never dropped silently. A missing split
// folder is an InputError: the C score would mean nothing.
#include <array>
#include <string>
#include <vector>

namespace acsweep::data {

using Point = std::array<double, 2>;  // x, y in pixels
using Box = std::array<double, 4>;    // x1, y1, x2, y2 in pixels

struct KeypointPair {
  std::string name;  // the annotation file's stem
  std::string category;
  std::string source_image, target_image;  // absolute paths
  std::vector<Point> source_points, target_points;
  Box source_box{}, target_box{};
  std::array<int, 2> source_size{}, target_size{};  // width, height
};

struct KeypointPairs {
  std::vector<KeypointPair> pairs;   // in file-name order
  std::vector<std::string> skipped;  // why each bad pair was left out
};

// At most `max_pairs` valid pairs (0: all), the first in file-name order.
KeypointPairs read_spair(const std::string& root, const std::string& split, std::size_t max_pairs = 0);

}  // namespace acsweep::data
