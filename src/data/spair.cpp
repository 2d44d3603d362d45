#include "acsweep/data/spair.hpp"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "acsweep/bounded_read.hpp"
#include "acsweep/data/llava.hpp"
#include "acsweep/error.hpp"
#include "acsweep/path_checks.hpp"

namespace fs = std::filesystem;

namespace acsweep::data {
namespace {

const nlohmann::json& field(const nlohmann::json& doc, const char* key, const std::string& where) {
  if (!doc.contains(key)) throw InputError(where + ": missing field '" + key + "'");
  return doc[key];
}

std::vector<Point> points(const nlohmann::json& list, const char* key, const std::string& where) {
  if (!list.is_array()) throw InputError(where + ": '" + key + "' is not a list of [x, y]");
  std::vector<Point> out;
  for (const auto& p : list) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number())
      throw InputError(where + ": '" + key + "' holds " + p.dump() + ", not [x, y]");
    out.push_back({p[0].get<double>(), p[1].get<double>()});
  }
  return out;
}

template <std::size_t N>
std::array<double, N> numbers(const nlohmann::json& list, const char* key, const std::string& where) {
  if (!list.is_array() || list.size() < N)
    throw InputError(where + ": '" + key + "' needs " + std::to_string(N) + " numbers");
  std::array<double, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    if (!list[i].is_number()) throw InputError(where + ": '" + key + "' holds a non-number");
    out[i] = list[i].get<double>();
  }
  return out;
}

void check_inside(const std::vector<Point>& pts, const std::array<int, 2>& size, const char* key,
                  const std::string& where) {
  for (std::size_t i = 0; i < pts.size(); ++i)
    if (pts[i][0] < 0 || pts[i][1] < 0 || pts[i][0] >= size[0] || pts[i][1] >= size[1])
      throw InputError(where + ": " + key + "[" + std::to_string(i) + "] = (" + std::to_string(pts[i][0]) +
                       ", " + std::to_string(pts[i][1]) + ") lies outside the " + std::to_string(size[0]) +
                       "x" + std::to_string(size[1]) + " image");
}

void check_box(const Box& box, const std::array<int, 2>& size, const char* key, const std::string& where) {
  if (!(box[0] >= 0 && box[1] >= 0 && box[0] < box[2] && box[1] < box[3] && box[2] <= size[0] &&
        box[3] <= size[1]))
    throw InputError(where + ": " + key + " [" + std::to_string(box[0]) + ", " + std::to_string(box[1]) +
                     ", " + std::to_string(box[2]) + ", " + std::to_string(box[3]) +
                     "] is not a box inside the image");
}

KeypointPair read_pair(const fs::path& file, const std::string& root) {
  const std::string where = file.string();
  const std::string text = read_bounded(where, kMaxPairJsonBytes, "a pair annotation");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(where + ": not JSON: " + e.what());
  }
  KeypointPair pair;
  pair.name = file.stem().string();
  const auto& category = field(doc, "category", where);
  if (!category.is_string()) throw InputError(where + ": 'category' is not a string");
  pair.category = category.get<std::string>();
  const auto image = [&](const char* key) {
    const auto& name = field(doc, key, where);
    if (!name.is_string()) throw InputError(where + ": '" + key + "' is not a file name");
    const std::string path =
        resolve_inside(root, "JPEGImages/" + pair.category + "/" + name.get<std::string>(), where);
    if (!is_file(path)) throw InputError(where + ": image " + path + " is missing");
    return path;
  };
  pair.source_image = image("src_imname");
  pair.target_image = image("trg_imname");
  pair.source_points = points(field(doc, "src_kps", where), "src_kps", where);
  pair.target_points = points(field(doc, "trg_kps", where), "trg_kps", where);
  if (pair.source_points.size() != pair.target_points.size())
    throw InputError(where + ": " + std::to_string(pair.source_points.size()) + " source keypoints but " +
                     std::to_string(pair.target_points.size()) + " target keypoints");
  if (pair.source_points.empty()) throw InputError(where + ": no keypoints");
  const auto source_size = numbers<2>(field(doc, "src_imsize", where), "src_imsize", where);
  const auto target_size = numbers<2>(field(doc, "trg_imsize", where), "trg_imsize", where);
  pair.source_size = {static_cast<int>(source_size[0]), static_cast<int>(source_size[1])};
  pair.target_size = {static_cast<int>(target_size[0]), static_cast<int>(target_size[1])};
  pair.source_box = numbers<4>(field(doc, "src_bndbox", where), "src_bndbox", where);
  pair.target_box = numbers<4>(field(doc, "trg_bndbox", where), "trg_bndbox", where);
  check_inside(pair.source_points, pair.source_size, "src_kps", where);
  check_inside(pair.target_points, pair.target_size, "trg_kps", where);
  check_box(pair.source_box, pair.source_size, "src_bndbox", where);
  check_box(pair.target_box, pair.target_size, "trg_bndbox", where);
  return pair;
}

}  // namespace

KeypointPairs read_spair(const std::string& root, const std::string& split, std::size_t max_pairs) {
  if (split != "trn" && split != "val" && split != "test")
    throw InputError("SPair-71k split must be trn, val or test, not '" + split + "'");
  const fs::path folder = fs::path(root) / "PairAnnotation" / split;
  if (!is_folder(folder))
    throw InputError(root + ": no " + folder.string() + " (is this the SPair-71k folder as downloaded?)");
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder))
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  KeypointPairs out;
  for (const auto& file : files) {
    if (max_pairs && out.pairs.size() == max_pairs) break;
    try {
      out.pairs.push_back(read_pair(file, root));
    } catch (const InputError& e) {
      out.skipped.push_back(e.what());
    }
  }
  return out;
}

}  // namespace acsweep::data
