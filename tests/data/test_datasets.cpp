// LLaVA JSON and SPair-71k as they ship: good items read, bad ones skipped with a message each,
// paths never leave their folder, and the two prompt templates exactly as LLaVA builds them.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "acsweep/data/llava.hpp"
#include "acsweep/data/spair.hpp"
#include "acsweep/error.hpp"
#include "temp_dir.hpp"

namespace acsweep::data {
namespace {
namespace fs = std::filesystem;

class DatasetTest : public acsweep::testing::TempDirTest {
 protected:
  std::string write(const std::string& relative, const std::string& text) {
    const fs::path p = dir_ / relative;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
};

TEST_F(DatasetTest, LlavaItemsReadOrSkippedWithReasons) {
  write("images/coco/1.jpg", "jpeg");
  const std::string json = write("chat.json", R"([
    {"id": "ok", "image": "coco/1.jpg", "conversations": [
      {"from": "human", "value": "<image>\nWhat is it?"}, {"from": "gpt", "value": "A cat."}]},
    {"id": 7, "conversations": [{"from": "human", "value": "Text only?"}, {"from": "gpt", "value": "Yes."}]},
    {"id": "no-answer", "image": "coco/1.jpg", "conversations": [{"from": "human", "value": "<image> hi"}]},
    {"id": "missing", "image": "coco/2.jpg", "conversations": [{"from": "gpt", "value": "x"}]},
    {"id": "escape", "image": "../secret.jpg", "conversations": [{"from": "gpt", "value": "x"}]},
    {"id": "absolute", "image": "/etc/passwd", "conversations": [{"from": "gpt", "value": "x"}]},
    {"id": "speaker", "conversations": [{"from": "robot", "value": "x"}]}
  ])");
  const LlavaDataset set = read_llava_json(json, (dir_ / "images").string());
  ASSERT_EQ(set.examples.size(), 2u);
  EXPECT_EQ(set.examples[0].image, (dir_ / "images/coco/1.jpg").string());
  EXPECT_EQ(set.examples[1].id, "7");
  EXPECT_TRUE(set.examples[1].image.empty());
  ASSERT_EQ(set.skipped.size(), 5u);
  EXPECT_EQ(set.skipped[0], json + ": item 2 (id no-answer): no answer (no non-empty 'gpt' turn)");
  EXPECT_NE(set.skipped[1].find("item 3 (id missing): image " + (dir_ / "images/coco/2.jpg").string() +
                                " is missing"),
            std::string::npos);
  EXPECT_NE(set.skipped[2].find("'../secret.jpg' leaves the image folder"), std::string::npos);
  EXPECT_NE(set.skipped[3].find("'/etc/passwd' is absolute"), std::string::npos);
  EXPECT_NE(set.skipped[4].find("unknown speaker 'robot'"), std::string::npos);
  EXPECT_EQ(set.missing, std::vector<std::size_t>{3});
  EXPECT_THROW(read_llava_json(write("bad.json", R"({"not": "a list"})"), dir_.string()), InputError);
  EXPECT_THROW(read_llava_json(write("broken.json", "[{"), dir_.string()), InputError);

  // A rank that did not plan takes the planning rank's list and touches no image: item 0's image
  // exists but is listed missing, item 3's is absent but not listed.
  const std::vector<std::size_t> found{0};
  const LlavaDataset taken = read_llava_json(json, (dir_ / "images").string(), &found);
  ASSERT_EQ(taken.examples.size(), 2u);
  EXPECT_EQ(taken.examples[0].id, "7");
  EXPECT_EQ(taken.examples[1].id, "missing");
  EXPECT_EQ(taken.missing, std::vector<std::size_t>{0});
  EXPECT_NE(
      taken.skipped[0].find("item 0 (id ok): image " + (dir_ / "images/coco/1.jpg").string() + " is missing"),
      std::string::npos);
}

// Found by fuzzing: a name too long for the filesystem made std::filesystem throw, which ended the
// whole read; such an image is missing like any other, and its item is skipped and counted.
TEST_F(DatasetTest, LlavaImageNameTooLongForTheFilesystemIsMissing) {
  const std::string name(300, 'a');  // one component past the 255 bytes Linux allows
  const std::string json =
      write("long.json", R"([{"id": "long", "image": ")" + name +
                             R"(.jpg", "conversations": [{"from": "gpt", "value": "x"}]}])");
  const LlavaDataset set = read_llava_json(json, (dir_ / "images").string());
  EXPECT_TRUE(set.examples.empty());
  ASSERT_EQ(set.skipped.size(), 1u);
  EXPECT_NE(set.skipped[0].find("item 0 (id long): image "), std::string::npos) << set.skipped[0];
  EXPECT_NE(set.skipped[0].find(".jpg is missing"), std::string::npos) << set.skipped[0];
  EXPECT_EQ(set.missing, std::vector<std::size_t>{0});
}

std::string render(const std::vector<PromptPiece>& pieces, bool trainable_only = false) {
  std::string out;
  for (const auto& p : pieces)
    if (!trainable_only || p.trainable) out += p.kind == PromptPiece::Kind::Image ? "[IMG]" : p.text;
  return out;
}

TEST(Templates, PlainAndVicunaV1AsLlavaBuildsThem) {
  const LlavaExample caption{"c", "", {{"human", "<image>"}, {"gpt", "A red bus."}}};
  EXPECT_EQ(render(plain_template(caption)), "[IMG]A red bus.\n");
  EXPECT_EQ(render(plain_template(caption), true), "A red bus.\n");

  const LlavaExample chat{
      "v", "", {{"human", "<image>\nWhat colour?"}, {"gpt", "Red."}, {"human", "Why?"}, {"gpt", "Paint."}}};
  EXPECT_EQ(render(vicuna_v1_template(chat)),
            std::string(kVicunaSystem) +
                " USER: [IMG]\nWhat colour? ASSISTANT: Red.</s>USER: Why? ASSISTANT: "
                "Paint.</s>");
  EXPECT_EQ(render(vicuna_v1_template(chat), true), " Red.</s> Paint.</s>");
}

// LLaVA's preprocess_multimodal, as LLaVA-665K's items need it: "<image>" after the question
// goes first; every copy in a turn is taken out and one put first; the turn is stripped; other
// turns and items without an image stay as they are.
TEST(Templates, ImageFirstAsLlavasPreprocessMultimodal) {
  const LlavaExample late{
      "l", "/i.jpg", {{"human", "What is this?\n<image>"}, {"gpt", "A bus <image>."}, {"human", "More?"}}};
  const auto moved = image_first(late);
  EXPECT_EQ(moved.turns[0].value, "<image>\nWhat is this?");
  EXPECT_EQ(moved.turns[1].value, "A bus <image>.");  // the assistant's text is not the image's place
  EXPECT_EQ(moved.turns[2].value, "More?");
  EXPECT_EQ(image_first({"t", "/i.jpg", {{"human", "  <image> a <image>b  \n"}}}).turns[0].value,
            "<image>\na b");
  EXPECT_EQ(image_first({"t", "/i.jpg", {{"human", "<image>"}}}).turns[0].value, "<image>");
  EXPECT_EQ(image_first({"t", "", {{"human", "text <image>"}}}).turns[0].value, "text <image>");  // no image
  EXPECT_EQ(render(vicuna_v1_template(moved)),
            std::string(kVicunaSystem) +
                " USER: [IMG]\nWhat is this? ASSISTANT: A bus <image>.</s>USER: More? ASSISTANT:");
}

std::string pair_json(const std::string& src_kps, const std::string& trg_kps,
                      const std::string& box = "[10, 10, 90, 60]", const std::string& extra = "") {
  return R"({"category": "cat", "src_imname": "a.jpg", "trg_imname": "b.jpg", "src_kps": )" + src_kps +
         R"(, "trg_kps": )" + trg_kps + R"(, "src_bndbox": [0, 0, 100, 80], "trg_bndbox": )" + box +
         R"(, "src_imsize": [100, 80, 3], "trg_imsize": [120, 70, 3])" + extra + "}";
}

TEST_F(DatasetTest, SpairPairsValidatedOneByOne) {
  write("spair/JPEGImages/cat/a.jpg", "jpeg");
  write("spair/JPEGImages/cat/b.jpg", "jpeg");
  const std::string root = (dir_ / "spair").string();
  write("spair/PairAnnotation/test/0001-a-b.json", pair_json("[[1, 2], [50, 40]]", "[[3, 4], [119, 69]]"));
  write("spair/PairAnnotation/test/0002-a-b.json", pair_json("[[1, 2]]", "[[3, 4], [5, 6]]"));
  write("spair/PairAnnotation/test/0003-a-b.json", pair_json("[[1, 2]]", "[[120, 4]]"));
  write("spair/PairAnnotation/test/0004-a-b.json", pair_json("[[1, 2]]", "[[3, 4]]", "[50, 10, 40, 60]"));
  write("spair/PairAnnotation/test/0005-a-b.json", R"({"category": "cat"})");
  write(
      "spair/PairAnnotation/test/0006-a-b.json",
      pair_json("[[1, 2]]", "[[3, 4]]").replace(pair_json("[[1, 2]]", "[[3, 4]]").find("b.jpg"), 5, "c.jpg"));
  write("spair/PairAnnotation/test/0007-a-b.json", pair_json("[[5, 5]]", "[[6, 6]]"));

  const KeypointPairs pairs = read_spair(root, "test");
  ASSERT_EQ(pairs.pairs.size(), 2u);
  const KeypointPair& p = pairs.pairs[0];
  EXPECT_EQ(p.name, "0001-a-b");
  EXPECT_EQ(p.category, "cat");
  EXPECT_EQ(p.target_points[1], (Point{119, 69}));
  EXPECT_EQ(p.target_box, (Box{10, 10, 90, 60}));
  EXPECT_EQ(p.target_size, (std::array<int, 2>{120, 70}));
  EXPECT_EQ(p.source_image, (dir_ / "spair/JPEGImages/cat/a.jpg").string());
  ASSERT_EQ(pairs.skipped.size(), 5u);
  EXPECT_NE(pairs.skipped[0].find("0002-a-b.json: 1 source keypoints but 2 target keypoints"),
            std::string::npos);
  EXPECT_NE(pairs.skipped[1].find("trg_kps[0] = (120.000000, 4.000000) lies outside the 120x70 image"),
            std::string::npos);
  EXPECT_NE(pairs.skipped[2].find("trg_bndbox [50.000000, 10.000000, 40.000000, 60.000000] is not a box"),
            std::string::npos);
  EXPECT_NE(pairs.skipped[3].find("0005-a-b.json: missing field 'src_imname'"), std::string::npos);
  EXPECT_NE(pairs.skipped[4].find("JPEGImages/cat/c.jpg is missing"), std::string::npos);

  EXPECT_EQ(read_spair(root, "test", 1).pairs.size(), 1u);
  EXPECT_THROW(read_spair(root, "val"), InputError);
  EXPECT_THROW(read_spair(root, "training"), InputError);
}

}  // namespace
}  // namespace acsweep::data
