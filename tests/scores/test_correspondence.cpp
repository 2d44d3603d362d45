// The C score on cases built by hand: a target whose features are the source's shifted by a
// known number of cells, a keypoint exactly at the threshold distance, the preprocessing round
// trip (keypoint -> feature cell -> pixel) in crop and pad modes, and counts derived by hand.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "acsweep/error.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/scores/correspondence.hpp"
#include "temp_dir.hpp"

namespace acsweep::scores {
namespace {

using data::ImageTransform;

data::KeypointPair pair_with(std::vector<data::Point> source, std::vector<data::Point> target,
                             data::Box box) {
  data::KeypointPair p;
  p.category = "cat";
  p.source_points = std::move(source);
  p.target_points = std::move(target);
  p.target_box = box;
  p.source_size = p.target_size = {64, 64};
  return p;
}

TEST(Correspondence, KnownShiftIsFoundExactly) {
  torch::manual_seed(0);
  const auto source = torch::randn({16, 8, 8});
  const auto target = torch::roll(source, {1, 2}, {1, 2});  // every feature moves 1 cell down, 2 right
  const auto identity = ImageTransform::resize_and_center_crop(64, 64, 64, 64);
  std::vector<data::Point> from, to;
  for (int y = 0; y < 7; ++y)
    for (int x = 0; x < 6; ++x) {
      from.push_back({x * 8 + 3.0, y * 8 + 5.0});            // anywhere inside cell (x, y)
      to.push_back({(x + 2) * 8 + 4.0, (y + 1) * 8 + 4.0});  // the centre of cell (x + 2, y + 1)
    }
  const auto pair = pair_with(from, to, {0, 0, 64, 64});
  const PairMatch match = match_keypoints(source, target, pair, identity, identity);
  for (std::size_t k = 0; k < to.size(); ++k) {
    EXPECT_EQ(match.predicted[k], to[k]) << k;
    EXPECT_TRUE(match.correct[k]);
  }
}

TEST(Correspondence, ThresholdIsStrict) {
  // One feature cell per image and alpha * max(50, 20) = 5 pixels: the prediction is the centre (32, 32).
  const auto features = torch::ones({4, 1, 1});
  const auto identity = ImageTransform::resize_and_center_crop(64, 64, 64, 64);
  const auto at_threshold = pair_with({{10, 10}}, {{35, 36}}, {0, 0, 50, 20});  // 3-4-5: exactly 5
  const auto just_inside = pair_with({{10, 10}}, {{35, 35.999}}, {0, 0, 50, 20});
  EXPECT_FALSE(match_keypoints(features, features, at_threshold, identity, identity).correct[0]);
  EXPECT_TRUE(match_keypoints(features, features, just_inside, identity, identity).correct[0]);
}

TEST(ImageTransformGeometry, CropAndPadRoundTrips) {
  const auto crop =
      ImageTransform::resize_and_center_crop(200, 100, 50, 50);  // 100x50 resized, 25 cut each side
  EXPECT_DOUBLE_EQ(crop.scale_x, 0.5);
  EXPECT_DOUBLE_EQ(crop.scale_y, 0.5);
  EXPECT_EQ(crop.to_input(100, 50), (std::array<double, 2>{25, 25}));
  EXPECT_EQ(data::cell_of(crop, 5, 5, 100, 50), (std::array<int, 2>{2, 2}));
  EXPECT_EQ(data::cell_centre_in_original(crop, 5, 5, 2, 2), (std::array<double, 2>{100, 50}));
  EXPECT_EQ(data::cell_of(crop, 5, 5, 10, 50), (std::array<int, 2>{0, 2}));  // cropped away: the border cell

  const auto pad = ImageTransform::pad_to_square(200, 100, 50);  // 200x200 with 50 rows above, scale 1/4
  EXPECT_DOUBLE_EQ(pad.offset_y, 12.5);
  EXPECT_EQ(pad.to_input(100, 50), (std::array<double, 2>{25, 25}));
  EXPECT_EQ(pad.to_original(25, 25), (std::array<double, 2>{100, 50}));
  for (const ImageTransform* t : {&crop, &pad})
    for (int cy = 0; cy < 7; ++cy)
      for (int cx = 0; cx < 7; ++cx) {
        const auto centre = data::cell_centre_in_original(*t, 7, 7, cx, cy);
        EXPECT_EQ(data::cell_of(*t, 7, 7, centre[0], centre[1]), (std::array<int, 2>{cx, cy}));
      }
}

TEST(Correspondence, SummaryCountsByHand) {
  data::KeypointPair cat, dog;
  cat.category = "cat";
  dog.category = "dog";
  // The third pair was left out (an image that did not decode): it counts nowhere.
  const std::vector<PairMatch> matches{
      {{}, {true, true, false, true}, ""}, {{}, {false, true}, ""}, {{}, {}, "dog.jpg: cannot decode image"}};
  const CorrespondenceScore s = summarise({cat, dog, dog}, matches);
  EXPECT_NEAR(s.pck_keypoints, 100.0 * 4 / 6, 1e-12);
  EXPECT_NEAR(s.pck_per_pair, (75.0 + 50.0) / 2, 1e-12);
  EXPECT_NEAR(s.pck_per_category.at("cat"), 75.0, 1e-12);
  EXPECT_NEAR(s.pck_per_category.at("dog"), 50.0, 1e-12);
  EXPECT_EQ(s.keypoints, 6u);
  EXPECT_EQ(s.pairs, 2u);
  EXPECT_THROW(summarise({dog}, {matches[2]}), InputError);  // nothing left to score
}

// Whole pipeline on real files: a PNG of random 8x8 colour blocks, and a larger target holding
// the same picture 8 px right and 16 px down; the encoder (TorchScript, written by the .venv's
// torch) gives each 8x8 patch its mean colour, so every block's feature is unique and found
// exactly.
class ImagePairByConstruction : public acsweep::testing::TempDirTest {};

TEST_F(ImagePairByConstruction, EveryKeypointFoundThroughDecodingAndTransforms) {
  const std::string script = R"(
import json, sys, torch
import numpy as np
from PIL import Image
folder = sys.argv[1]
class PatchColour(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.avg_pool2d(x, 8)
torch.jit.script(PatchColour()).save(folder + "/encoder.pt")
json.dump({"module": "encoder.pt", "output_layout": "BCHW", "channels": 3}, open(folder + "/acsweep_encoder.json", "w"))
json.dump({"do_resize": False, "do_normalize": False}, open(folder + "/preprocessor_config.json", "w"))
blocks = np.random.default_rng(1).integers(0, 256, (4, 4, 3)).astype(np.uint8)
source = blocks.repeat(8, 0).repeat(8, 1)
target = np.full((48, 40, 3), 7, np.uint8)
target[16:48, 8:40] = source
Image.fromarray(source).save(folder + "/source.png")
Image.fromarray(target).save(folder + "/target.png")
)";
  std::ofstream(path("make.py")) << script;
  ASSERT_EQ(std::system((ACSWEEP_PYTHON " " + path("make.py") + " " + dir_.string()).c_str()), 0);
  std::vector<std::unique_ptr<models::VisionEncoder>> members;
  members.push_back(models::load_vision_encoder(dir_.string()));
  models::VisionRepresentation representation(std::move(members));

  data::KeypointPair pair;
  pair.category = "blocks";
  pair.source_image = path("source.png");
  pair.target_image = path("target.png");
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x) {
      pair.source_points.push_back({8.0 * x + 2, 8.0 * y + 5});  // anywhere inside the block
      pair.target_points.push_back({8.0 * x + 4 + 8, 8.0 * y + 4 + 16});
    }
  pair.target_points.back() = {1, 1};  // the annotation of the last one is elsewhere: wrong
  pair.target_box = {8, 16, 40, 48};   // PCK threshold 0.1 * 32 = 3.2 px
  const auto result = score_correspondence(representation, {pair}, {});
  ASSERT_EQ(result.matches.size(), 1u);
  for (std::size_t k = 0; k < 15; ++k) {
    EXPECT_TRUE(result.matches[0].correct[k]) << k;
    EXPECT_EQ(result.matches[0].predicted[k], pair.target_points[k]);  // the block's centre, exactly
  }
  EXPECT_FALSE(result.matches[0].correct[15]);
  EXPECT_DOUBLE_EQ(result.summary.pck_keypoints, 100.0 * 15 / 16);

  // Upsampled to pixels, the block centres are still best (bilinear blending only lowers others).
  const auto upsampled = score_correspondence(representation, {pair}, {0.1, true});
  EXPECT_DOUBLE_EQ(upsampled.summary.pck_keypoints, 100.0 * 15 / 16);

  // The loader's threads change nothing: a run of pairs, the images swapped in every other one and
  // one image damaged, scores alike on the calling thread and on three.
  std::vector<data::KeypointPair> many(9, pair);
  for (std::size_t i = 1; i < many.size(); i += 2) std::swap(many[i].source_image, many[i].target_image);
  std::ofstream(path("damaged.png")) << "not a png";
  many[4].target_image = path("damaged.png");
  const auto serial = score_correspondence(representation, many, {0.1, false, 0});
  const auto threaded = score_correspondence(representation, many, {0.1, false, 3});
  ASSERT_EQ(serial.matches.size(), many.size());
  ASSERT_EQ(threaded.matches.size(), many.size());
  for (std::size_t i = 0; i < many.size(); ++i) {
    EXPECT_EQ(threaded.matches[i].predicted, serial.matches[i].predicted) << i;
    EXPECT_EQ(threaded.matches[i].skipped, serial.matches[i].skipped) << i;
  }
  EXPECT_NE(serial.matches[4].skipped.find("damaged.png"), std::string::npos);
  EXPECT_DOUBLE_EQ(threaded.summary.pck_keypoints, serial.summary.pck_keypoints);
}

}  // namespace
}  // namespace acsweep::scores
