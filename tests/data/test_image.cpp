// Images against Pillow (tests/data/image_reference.py): PNG decoded exactly, JPEG within the
// decoders' rounding, every resize bit for bit, and each preprocessing config (crop and pad) to
// float rounding; the transform maps the image's corners where the pixels went. Bad files and
// configs are errors naming the file and the key.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "acsweep/data/image.hpp"
#include "acsweep/data/preprocessor.hpp"
#include "acsweep/error.hpp"
#include "acsweep/models/safetensors.hpp"
#include "temp_dir.hpp"

namespace acsweep::data {
namespace {

class ImageAgainstPillow : public acsweep::testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    const std::string command =
        ACSWEEP_PYTHON " " ACSWEEP_TESTS_DIR "/data/image_reference.py " + dir_.string();
    ASSERT_EQ(std::system(command.c_str()), 0);
    expected_ = std::make_unique<models::SafetensorsFile>(path("expected.safetensors"));
    std::ifstream(path("cases.json")) >> cases_;
  }
  std::vector<float> want(const std::string& name) const { return expected_->tensor(name).to_float(); }

  std::unique_ptr<models::SafetensorsFile> expected_;
  nlohmann::json cases_;
};

std::vector<float> as_floats(const Image& image) { return {image.rgb.begin(), image.rgb.end()}; }

TEST_F(ImageAgainstPillow, PngAndEveryKindOfJpegDecodeAsPillowBitForBit) {
  const Image png = decode_image(path("photo.png"));
  EXPECT_EQ(png.width, 57);
  EXPECT_EQ(png.height, 38);
  EXPECT_EQ(as_floats(png), want("png_pixels"));

  for (const std::string kind : {"photo", "photo_444", "grey", "cmyk", "progressive"}) {
    const Image jpeg = decode_image(path(kind + ".jpg"));
    EXPECT_EQ(jpeg.width, 57) << kind;
    EXPECT_EQ(as_floats(jpeg), want("jpeg_" + kind)) << kind;
  }

  const Image grey = decode_image(path("grey.png"));
  for (int x = 0; x < grey.width; x += 7) EXPECT_EQ(grey.at(x, 3, 0), grey.at(x, 3, 2));
}

// Decompression bombs: a small file whose header declares 20000 x 20000 pixels is refused from the
// header, before anything of that size is allocated (Pillow refuses it too).
TEST_F(ImageAgainstPillow, ImagesOfTooManyPixelsAreRefusedFromTheirHeader) {
  const auto patched = [&](const std::string& name, std::size_t at) {
    std::ifstream in(path(name), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const bool png = name.size() > 4 && name.substr(name.size() - 4) == ".png";
    const unsigned side = 20000;
    const unsigned char be32[] = {0, 0, static_cast<unsigned char>(side >> 8),
                                  static_cast<unsigned char>(side)};
    for (int field = 0; field < 2;
         ++field)  // PNG: width then height in 4 bytes; JPEG: height then width in 2
      for (int b = 0; b < (png ? 4 : 2); ++b)
        bytes[at + static_cast<std::size_t>(field * (png ? 4 : 2) + b)] =
            static_cast<char>(be32[(png ? 0 : 2) + b]);
    const std::string out = path("bomb-" + name);
    std::ofstream(out, std::ios::binary) << bytes;
    return out;
  };
  std::ifstream jpeg_in(path("photo.jpg"), std::ios::binary);
  const std::string jpeg((std::istreambuf_iterator<char>(jpeg_in)), std::istreambuf_iterator<char>());
  const std::size_t sof = jpeg.find("\xFF\xC0");
  ASSERT_NE(sof, std::string::npos);
  for (const std::string& bomb : {patched("photo.png", 16), patched("photo.jpg", sof + 5)}) {
    try {
      decode_image(bomb);
      ADD_FAILURE() << bomb << " was decoded";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), bomb +
                                           ": 20000 x 20000 pixels, more than 178956970 (Pillow's "
                                           "decompression-bomb limit): not decoded");
    }
  }
}

TEST_F(ImageAgainstPillow, ResizeEqualsPillowBitForBit) {
  for (const auto& c : cases_["resize"]) {
    const Image source = decode_image(path(c["source"].get<std::string>()));
    const Resample filter = c["filter"] == "bicubic" ? Resample::bicubic : Resample::bilinear;
    const Image got = resize(source, c["width"].get<int>(), c["height"].get<int>(), filter);
    EXPECT_EQ(as_floats(got), want(c["name"].get<std::string>())) << c["name"];
  }
}

TEST_F(ImageAgainstPillow, PreprocessingEqualsTransformers) {
  const Image png = decode_image(path("photo.png"));
  for (const auto& c : cases_["preprocess"]) {
    ImagePreprocessor p = read_preprocessor_config(path(c["config"].get<std::string>()));
    p.pad_to_square = c["pad"].get<bool>();
    const PreprocessedImage got = p.apply(png);
    const auto reference = want(c["name"].get<std::string>());
    ASSERT_EQ(got.pixels.size(), reference.size()) << c["name"];
    float worst = 0;
    for (std::size_t i = 0; i < reference.size(); ++i)
      worst = std::max(worst, std::fabs(got.pixels[i] - reference[i]));
    EXPECT_LE(worst, 1e-6f) << c["name"];
    EXPECT_EQ(got.width, got.transform.input_width);
    EXPECT_EQ(got.height, got.transform.input_height);
  }
}

TEST(ImageTransformSteps, ShortestEdgeTruncatesLikeTransformers) {
  // 333x200 to a shortest edge of 224: the long side is int(224 * 333 / 200) = 372, so the two
  // axes scale differently (372/333 against 224/200).
  const auto t = ImageTransform::resize_and_center_crop(333, 200, 224, 224);
  EXPECT_DOUBLE_EQ(t.scale_x, 372.0 / 333.0);
  EXPECT_DOUBLE_EQ(t.scale_y, 224.0 / 200.0);
  EXPECT_DOUBLE_EQ(t.offset_x, -74.0);  // (372 - 224) // 2
  const auto corner = t.to_original(0, 0);
  EXPECT_NEAR(corner[0], 74.0 * 333.0 / 372.0, 1e-12);
  EXPECT_EQ(centred_start(5, 8), -2);  // Python's floor division
  EXPECT_EQ(centred_start(8, 5), 1);
}

TEST(ImagePreprocessing, PadPutsTheImageWhereTheTransformSays) {
  Image tall{2, 4, std::vector<std::uint8_t>(2 * 4 * 3, 255)};  // white, padded with the mean colour
  ImagePreprocessor p;
  p.pad_to_square = true;
  p.do_resize = false;
  p.do_normalize = false;
  p.do_rescale = false;
  const auto out = p.apply(tall);
  ASSERT_EQ(out.width, 4);
  const auto inside = out.transform.to_input(0.5, 0.5);  // the first pixel's centre
  EXPECT_EQ(inside[0], 1.5);
  EXPECT_EQ(out.pixels[1], 255.0f);                                     // column 1 of row 0: the image
  EXPECT_EQ(out.pixels[0], static_cast<float>(int(0.48145466 * 255)));  // column 0: padding
}

class ImageErrors : public acsweep::testing::TempDirTest {};

TEST_F(ImageErrors, BadFilesAndConfigsNameWhatIsWrong) {
  const auto message = [](auto&& f) {
    try {
      f();
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::ofstream(path("corrupt.jpg")) << "\xff\xd8\xff\xe0 not really a jpeg";
  EXPECT_NE(message([&] { decode_image(path("corrupt.jpg")); }).find(path("corrupt.jpg") + ": cannot decode"),
            std::string::npos);
  EXPECT_EQ(message([&] { decode_image(path("missing.png")); }), path("missing.png") + ": image not found");
  // Only JPEG and PNG are decoded. stb_image would take a BMP, a GIF or any bytes that look like a
  // TGA header, and Debian's build of it aborts the process on some corrupt ones (found by
  // fuzzing).
  const std::string tga =
      std::string("\0\0\x02\0\0\0\0\0\0\0\0\0\x04\0\x04\0\x18\0", 18) + std::string(48, '\x7f');
  for (const auto& [name, bytes] :
       std::map<std::string, std::string>{{"x.bmp", "BM" + std::string(60, '\0')},
                                          {"x.gif", "GIF89a" + std::string(60, '\0')},
                                          {"x.tga", tga}}) {
    std::ofstream(path(name), std::ios::binary) << bytes;
    EXPECT_EQ(message([&] { decode_image(path(name)); }),
              path(name) + ": cannot decode image (neither a JPEG nor a PNG file)");
  }
  // A PNG of 4 x 4 RGB pixels whose data is not zlib: stb's own message, not a crash.
  const std::string cut(
      "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x04\0\0\0\x04\x08\x02\0\0\0\0\0\0\0"
      "\0\0\0\x04IDAT\xde\xad\xbe\xef\0\0\0\0\0\0\0\0IEND\0\0\0\0",
      61);
  std::ofstream(path("cut.png"), std::ios::binary) << cut;
  EXPECT_EQ(
      message([&] { decode_image(path("cut.png")); }).rfind(path("cut.png") + ": cannot decode image (", 0),
      0u);

  const auto config = [&](const std::string& text) {
    std::ofstream(path("p.json")) << text;
    return message([&] { read_preprocessor_config(path("p.json")); });
  };
  EXPECT_NE(config(R"({"resample": 1, "size": 4})").find("key 'resample' is 1"), std::string::npos);
  EXPECT_NE(config(R"({"do_resize": true})").find("key 'size' missing"), std::string::npos);
  EXPECT_NE(config(R"({"size": {"longest": 3}})").find("key 'size' must be"), std::string::npos);
  EXPECT_NE(config(R"({"size": 4, "image_mean": "grey"})").find("key 'image_mean' has the wrong type"),
            std::string::npos);
  EXPECT_NE(config(R"({"size": 4, "image_std": [1, 0, 1]})").find("key 'image_std' must be positive"),
            std::string::npos);
  EXPECT_NE(config("{").find("not valid JSON"), std::string::npos);
  EXPECT_EQ(config(R"({"size": 4})"), "no error");
  // Sides that would make every image a tensor of gigabytes are refused, naming the key.
  EXPECT_EQ(config(R"({"size": {"shortest_edge": 1000000000}})"),
            path("p.json") + ": key 'size.shortest_edge' is 1000000000 pixels, more than 16384");
  EXPECT_EQ(config(R"({"size": {"height": 224, "width": 99999999999}})"),
            path("p.json") + ": key 'size.width' is 99999999999 pixels, more than 16384");
  EXPECT_EQ(config(R"({"size": 4, "do_center_crop": true, "crop_size": 1000000000})"),
            path("p.json") + ": key 'crop_size' is 1000000000 pixels, more than 16384");
  EXPECT_EQ(config(R"({"size": 4.5})"), path("p.json") +
                                            ": key 'size' must be a number, {shortest_edge} or "
                                            "{height, width}, not 4.5");
}

}  // namespace
}  // namespace acsweep::data
