// tokenizer.json's byte-level BPE against the `tokenizers` library (tests/models/bpe_reference.py
// trains one per variant): the same ids on 1200 varied texts, the same decoding, spans that tile
// each text; bad files refused naming the file and the key.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "acsweep/error.hpp"
#include "acsweep/models/tokenizer.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;

fs::path reference(const std::string& variant) {
  const fs::path folder =
      fs::temp_directory_path() / ("acsweep_bpe_" + std::to_string(::getpid()) + "_" + variant);
  const std::string command =
      ACSWEEP_PYTHON " " ACSWEEP_TESTS_DIR "/models/bpe_reference.py " + folder.string() + " " + variant;
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return folder;
}

std::string shown(const std::string& text) { return nlohmann::json(text).dump(); }

class BpeAgainstTokenizers : public ::testing::TestWithParam<const char*> {};

TEST_P(BpeAgainstTokenizers, IdsAndDecodingEqualOn1200Texts) {
  const fs::path folder = reference(GetParam());
  const Tokenizer tokenizer((folder / "tokenizer.json").string());
  EXPECT_EQ(tokenizer.format(), Tokenizer::Format::byte_level_bpe);
  const auto texts =
      nlohmann::json::parse(std::ifstream(folder / "texts.json")).get<std::vector<std::string>>();
  const auto expected = nlohmann::json::parse(std::ifstream(folder / "expected.json"));
  ASSERT_EQ(texts.size(), expected.size());
  ASSERT_GE(texts.size(), 1000u);
  int wrong = 0;
  for (std::size_t i = 0; i < texts.size() && wrong < 5; ++i) {
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    std::vector<std::int64_t> ids = tokenizer.prefix_ids();
    for (const auto id : tokenizer.encode(texts[i], spans)) ids.push_back(id);
    ids.insert(ids.end(), tokenizer.suffix_ids().begin(), tokenizer.suffix_ids().end());
    const auto want = expected[i]["ids"].get<std::vector<std::int64_t>>();
    if (ids != want) {
      ++wrong;
      ADD_FAILURE() << "text " << i << " " << shown(texts[i]) << ": ids " << nlohmann::json(ids).dump()
                    << ", tokenizers " << nlohmann::json(want).dump();
      continue;
    }
    EXPECT_EQ(tokenizer.decode(ids), expected[i]["decoded"].get<std::string>()) << "text " << i;
    // The spans tile the text in order (a stretch that NFC changed gives its tokens the whole stretch).
    std::size_t end = 0;
    for (const auto& [b, e] : spans) {
      ASSERT_TRUE(b <= e && e <= texts[i].size() && (b >= end || (b < end && e == end))) << "text " << i;
      end = e;
    }
  }
  fs::remove_all(folder);
}

INSTANTIATE_TEST_SUITE_P(Variants, BpeAgainstTokenizers, ::testing::Values("qwen2", "llama3", "gpt2"),
                         [](const auto& variant) { return std::string(variant.param); });

class BpeFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { folder_ = reference("qwen2"); }
  static void TearDownTestSuite() { fs::remove_all(folder_); }

  // The error of loading tokenizer.json after `edit`, or "no error".
  static std::string error_after(const std::function<void(nlohmann::json&)>& edit) {
    auto doc = nlohmann::json::parse(std::ifstream(folder_ / "tokenizer.json"));
    edit(doc);
    const fs::path bad = folder_ / "bad" / "tokenizer.json";
    fs::create_directories(bad.parent_path());
    std::ofstream(bad) << doc.dump();
    try {
      Tokenizer tokenizer(bad.string());
    } catch (const InputError& e) {
      return e.what();
    }
    return "no error";
  }
  static std::string bad_file() { return (folder_ / "bad" / "tokenizer.json").string(); }
  static inline fs::path folder_;
};

TEST_F(BpeFiles, SpecialTokensAreMatchedInsideTextAndEosComesFromTheConfig) {
  const Tokenizer tokenizer((folder_ / "tokenizer.json").string());
  const auto ids = tokenizer.encode("hi<|im_end|>\n<|im_start|>user");
  ASSERT_EQ(ids.size() >= 4, true);
  EXPECT_EQ(tokenizer.piece(ids[1]), "<|im_end|>");
  EXPECT_EQ(tokenizer.eos_id(), ids[1]);
  EXPECT_TRUE(tokenizer.prefix_ids().empty());  // Qwen2 puts no BOS in front
  EXPECT_THROW(tokenizer.bos_id(), InputError);
  EXPECT_EQ(tokenizer.decode(ids), "hi\nuser");  // special tokens left out, as tokenizers' decode
  EXPECT_THROW(tokenizer.encode("bad \xFF byte"), InputError);
}

// The qwen_2 template (data/llava.hpp) against transformers' apply_chat_template with the chat
// template Qwen2 ships: the same text, the same ids, and the loss exactly on the tokens
// return_assistant_tokens_mask marks (each answer and its <|im_end|>).
TEST_F(BpeFiles, Qwen2TemplateRendersTokenizesAndMasksAsTransformers) {
  const std::string command =
      ACSWEEP_PYTHON " " ACSWEEP_TESTS_DIR "/models/chat_template_reference.py " + folder_.string();
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const Tokenizer tokenizer((folder_ / "tokenizer.json").string());
  const auto chats = nlohmann::json::parse(std::ifstream(folder_ / "chats.json"));
  const auto expected = nlohmann::json::parse(std::ifstream(folder_ / "chats_expected.json"));
  ASSERT_EQ(chats.size(), expected.size());
  for (std::size_t i = 0; i < chats.size(); ++i) {
    SCOPED_TRACE("conversation " + std::to_string(i));
    data::LlavaExample example{"c", "", {}};
    for (const auto& turn : chats[i]) example.turns.push_back({turn[0], turn[1]});
    const auto pieces = data::chat_prompt(data::ChatTemplate::qwen_2, example);
    std::string text;
    for (const auto& p : pieces) text += p.text;
    EXPECT_EQ(text, expected[i]["text"].get<std::string>());
    const TokenizedPrompt prompt = tokenize_prompt(tokenizer, pieces);
    EXPECT_EQ(prompt.ids, expected[i]["ids"].get<std::vector<std::int64_t>>());
    std::vector<bool> mask;
    for (const auto& m : expected[i]["mask"]) mask.push_back(m.get<int>() == 1);
    EXPECT_EQ(prompt.trainable, mask);
  }
  // With an image: LLaVA's split of the text around it, the image's place right after "user\n".
  const auto with_image = tokenize_prompt(
      tokenizer,
      data::chat_prompt(data::ChatTemplate::qwen_2,
                        data::image_first({"c", "/i.png", {{"human", "What?\n<image>"}, {"gpt", "Red."}}})));
  ASSERT_EQ(with_image.image_positions.size(), 1u);
  EXPECT_EQ(
      tokenizer.decode({with_image.ids.begin(),
                        with_image.ids.begin() + static_cast<std::ptrdiff_t>(with_image.image_positions[0])}),
      "system\nYou are a helpful assistant.\nuser\n");
}

TEST_F(BpeFiles, BadFilesAreRefusedNamingTheFileAndKey) {
  EXPECT_EQ(error_after([](auto&) {}), "no error");
  EXPECT_EQ(
      error_after([](auto& d) { d["model"]["type"] = "WordPiece"; }),
      bad_file() + ": 'model.type' is 'WordPiece'; only BPE (byte-level) is supported in tokenizer.json");
  EXPECT_EQ(error_after([](auto& d) { d["model"].erase("merges"); }),
            bad_file() + ": 'model.merges' is missing");
  EXPECT_EQ(error_after([](auto& d) { d["model"]["merges"][2] = "onlyone"; }),
            bad_file() + ": 'model.merges[2]' is \"onlyone\", not two tokens separated by one space");
  EXPECT_NE(error_after([](auto& d) {
              d["model"]["merges"][0] = {"\xC4\xA0", "nosuchtoken"};
            })
                .find("'model.merges[0]' merges '\xC4\xA0' and 'nosuchtoken', but 'nosuchtoken' is not in "
                      "model.vocab"),
            std::string::npos);
  const std::string regex =
      error_after([](auto& d) { d["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(\\p{L}+"; });
  EXPECT_EQ(
      regex.rfind(
          bad_file() + ": 'pre_tokenizer.pretokenizers[0].pattern' is not a valid regular expression: ", 0),
      0u)
      << regex;
  {  // a pattern that backtracks without end: PCRE2's match limit, named as the file's
    auto doc = nlohmann::json::parse(std::ifstream(folder_ / "tokenizer.json"));
    doc["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(a+)+$";
    std::ofstream(bad_file()) << doc.dump();
    const Tokenizer tokenizer(bad_file());
    try {
      tokenizer.encode(std::string(40, 'a') + "!");
      ADD_FAILURE() << "no error";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(
                    bad_file() + ": 'pre_tokenizer.pretokenizers[0].pattern' failed to match: ", 0),
                0u)
          << e.what();
    }
  }
  EXPECT_EQ(
      error_after([](auto& d) {
        d["normalizer"] = {{"type", "Lowercase"}};
      }),
      bad_file() + ": 'normalizer.type' is 'Lowercase'; only NFC, NFD, NFKC, NFKD or none are supported");
  EXPECT_EQ(error_after([](auto& d) {
              d["pre_tokenizer"] = {{"type", "Whitespace"}};
            }),
            bad_file() +
                ": 'pre_tokenizer.type' is 'Whitespace'; only ByteLevel, Split and Sequence are supported");
  EXPECT_EQ(error_after([](auto& d) { d["added_tokens"][0]["single_word"] = true; }),
            bad_file() + ": 'added_tokens[0].single_word' is true; not supported");
  EXPECT_NE(error_after([](auto& d) { d = nlohmann::json::array(); }).find("must be a JSON object"),
            std::string::npos);
  // The end-of-sequence token, when asked for, names both files.
  fs::remove(folder_ / "bad" / "tokenizer_config.json");
  error_after([](auto&) {});
  const Tokenizer no_config(bad_file());
  try {
    no_config.eos_id();
    ADD_FAILURE() << "no eos_token accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json does not exist"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace acsweep::models
