// The SentencePiece wrapper against Python's sentencepiece, and prompt assembly: trainable
// tokens decode to exactly the answers, the rest to the prompt, images and "</s>" in place.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "acsweep/error.hpp"
#include "acsweep/models/tokenizer.hpp"

namespace acsweep::models {
namespace {
namespace fs = std::filesystem;

class TokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    folder_ = fs::temp_directory_path() / ("acsweep_tok_" + std::to_string(::getpid()));
    fs::create_directories(folder_);
    std::ofstream(folder_ / "texts.json")
        << nlohmann::json(std::vector<std::string>(std::begin(kTexts), std::end(kTexts)));
    const std::string command = ACSWEEP_PYTHON " " ACSWEEP_TESTS_DIR "/models/tokenizer_reference.py " +
                                folder_.string() + " " + (folder_ / "texts.json").string();
    FILE* pipe = ::popen(command.c_str(), "r");
    std::string out;
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    ASSERT_EQ(::pclose(pipe), 0);
    python_ = nlohmann::json::parse(out);
  }
  static void TearDownTestSuite() { fs::remove_all(folder_); }

  static constexpr const char* kTexts[] = {
      "A red bus.",
      " ASSISTANT: Red.",
      "Two dogs play in the park",
      "zebra!",
      "  two  spaces and a tab\there",
      "line one\nline two\n",
      "numbers 1234567 and 3.14",
      "caf\xC3\xA9 na\xC3\xAFve \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC",
      "emoji \xF0\x9F\x9A\x8C!",
      "USER: What colour is the bus? ASSISTANT: Red.</s>",
      "assistantassistant",
      "a",
      " ",
      "The assistant gives helpful, detailed, and polite answers to the user's questions."};
  static inline fs::path folder_;
  static inline nlohmann::json python_;
};

TEST_F(TokenizerTest, EncodesAsPythonSentencePiece) {
  const Tokenizer tokenizer((folder_ / "tokenizer.model").string());
  EXPECT_EQ(tokenizer.bos_id(), 1);
  EXPECT_EQ(tokenizer.eos_id(), 2);
  for (const char* text : kTexts)
    EXPECT_EQ(tokenizer.encode(text), python_[text].get<std::vector<std::int64_t>>()) << text;
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("zebra!")), "zebra!");  // byte fallback keeps unseen letters
}

std::vector<std::int64_t> select(const TokenizedPrompt& p, bool trainable, std::size_t from = 0) {
  std::vector<std::int64_t> out;
  for (std::size_t i = from; i < p.ids.size(); ++i)
    if (p.trainable[i] == trainable) out.push_back(p.ids[i]);
  return out;
}

TEST_F(TokenizerTest, VicunaPromptMasksEverythingButTheAnswers) {
  const Tokenizer tokenizer((folder_ / "tokenizer.model").string());
  const data::LlavaExample chat{
      "v",
      "",
      {{"human", "<image>\nWhat colour is the bus?"}, {"gpt", "Red."}, {"human", "Why?"}, {"gpt", "Paint."}}};
  const TokenizedPrompt p = tokenize_prompt(tokenizer, data::vicuna_v1_template(chat));
  ASSERT_EQ(p.ids.size(), p.trainable.size());
  EXPECT_EQ(p.ids.front(), tokenizer.bos_id());
  ASSERT_EQ(p.image_positions.size(), 1u);
  // Everything before the image: BOS, the system line and "USER: ".
  const std::vector<std::int64_t> before(p.ids.begin() + 1,
                                         p.ids.begin() + static_cast<long>(p.image_positions[0]));
  EXPECT_EQ(tokenizer.decode(before), std::string(data::kVicunaSystem) + " USER: ");
  EXPECT_EQ(tokenizer.decode(select(p, true)), "Red. Paint.");
  EXPECT_EQ(std::count(p.ids.begin(), p.ids.end(), tokenizer.eos_id()), 2);
  for (std::size_t i = 0; i < p.ids.size(); ++i)
    if (p.ids[i] == tokenizer.eos_id()) {
      EXPECT_TRUE(p.trainable[i]) << "the end of an answer carries the loss";
    }
  // After "</s>" the next chunk starts with SentencePiece's dummy prefix ("▁USER"), as in Hugging
  // Face's (legacy) Llama tokenizer that LLaVA used.
  EXPECT_EQ(tokenizer.decode(select(p, false, p.image_positions[0])),
            "\nWhat colour is the bus? ASSISTANT: USER: Why? ASSISTANT:");
}

// The world's LLM (scripts/world/text_model.py) is trained on tokens made in Python: they must be
// the ones tokenize_prompt gives it here, with the same tokens carrying the loss.
TEST_F(TokenizerTest, TheWorldsLlmIsTrainedOnTheTokensMadeHere) {
  const Tokenizer tokenizer((folder_ / "tokenizer.model").string());
  const data::LlavaExample chat{"w",
                                "",
                                {{"human", "<image>\nWhat colour is the bus?"},
                                 {"gpt", "Red."},
                                 {"human", "Why?"},
                                 {"gpt", "Paint, 2 coats."}}};
  const TokenizedPrompt p = tokenize_prompt(tokenizer, data::vicuna_v1_template(chat));
  nlohmann::json turns = nlohmann::json::array();
  for (const auto& turn : chat.turns) turns.push_back({{"from", turn.from}, {"value", turn.value}});
  std::ofstream(folder_ / "chat.json") << turns.dump();
  const std::string command =
      "cd " ACSWEEP_TESTS_DIR "/../scripts && " ACSWEEP_PYTHON
      " -c 'import json, sys; import sentencepiece as spm; "
      "from world.text_model import vicuna_chunks, encode_chunk; "
      "sp = spm.SentencePieceProcessor(model_file=sys.argv[1]); b, a, s = "
      "vicuna_chunks(json.load(open(sys.argv[2]))); "
      "before, _ = encode_chunk(sp, b); after, w = encode_chunk(sp, a, s, 2.0); "
      "json.dump({\"before\": before, \"after\": after, \"trainable\": [x == 2.0 for x in w]}, "
      "open(sys.argv[3], \"w\"))' " +
      (folder_ / "tokenizer.model").string() + " " + (folder_ / "chat.json").string() + " " +
      (folder_ / "chat_tokens.json").string();
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const auto python = nlohmann::json::parse(std::ifstream(folder_ / "chat_tokens.json"));
  const auto before = python["before"].get<std::vector<std::int64_t>>();
  const auto after = python["after"].get<std::vector<std::int64_t>>();
  const auto trainable = python["trainable"].get<std::vector<bool>>();
  ASSERT_EQ(p.image_positions, (std::vector<std::size_t>{1 + before.size()}));  // after BOS and the text
  std::vector<std::int64_t> ids{tokenizer.bos_id()};
  ids.insert(ids.end(), before.begin(), before.end());
  ids.insert(ids.end(), after.begin(), after.end());
  EXPECT_EQ(p.ids, ids);
  std::vector<bool> expected(1 + before.size(), false);
  expected.insert(expected.end(), trainable.begin(), trainable.end());
  EXPECT_EQ(p.trainable, expected);
}

TEST_F(TokenizerTest, PlainPromptIsImageThenCaption) {
  const Tokenizer tokenizer((folder_ / "tokenizer.model").string());
  const data::LlavaExample caption{"c", "", {{"human", "<image>"}, {"gpt", "A red bus."}}};
  const TokenizedPrompt p = tokenize_prompt(tokenizer, data::plain_template(caption));
  EXPECT_EQ(p.image_positions, (std::vector<std::size_t>{1}));  // right after BOS
  EXPECT_EQ(tokenizer.decode(select(p, true)), "A red bus.\n");
  EXPECT_EQ(select(p, false), (std::vector<std::int64_t>{tokenizer.bos_id()}));
}

TEST(TokenizerErrors, UnreadableModelIsNamed) {
  EXPECT_THROW(Tokenizer("/nonexistent/tokenizer.model"), InputError);
}

// A SentencePiece ModelProto written field by field: the pieces "a" and "b" and a BPE trainer
// spec whose unk, bos and eos ids are given (-1 written as protobuf writes an int32's -1).
std::string sentencepiece_model(std::int64_t unk, std::int64_t bos, std::int64_t eos) {
  const auto varint = [](std::uint64_t v) {
    std::string out;
    for (; v >= 0x80; v >>= 7) out += static_cast<char>((v & 0x7F) | 0x80);
    return out + static_cast<char>(v);
  };
  const auto field = [&](int number, int wire, const std::string& payload) {
    std::string out = varint(static_cast<std::uint64_t>(number) << 3 | static_cast<std::uint64_t>(wire));
    return wire == 2 ? out + varint(payload.size()) + payload : out + payload;
  };
  std::string proto;
  for (const char* text : {"a", "b"}) proto += field(1, 2, field(1, 2, text) + field(3, 0, varint(1)));
  return proto + field(2, 2,
                       field(3, 0, varint(2)) + field(40, 0, varint(static_cast<std::uint64_t>(unk))) +
                           field(41, 0, varint(static_cast<std::uint64_t>(bos))) +
                           field(42, 0, varint(static_cast<std::uint64_t>(eos))));
}

// Found by the fuzzer: an unk id past the pieces was taken, and encoding an unknown character
// gave an id that decoding could not look up.
TEST(TokenizerErrors, SpecialIdsOutsideThePiecesAreNamed) {
  const fs::path folder = fs::temp_directory_path() / ("acsweep_tok_ids_" + std::to_string(::getpid()));
  fs::create_directories(folder);
  const std::string path = (folder / "tokenizer.model").string();
  const auto message = [&](std::int64_t unk, std::int64_t bos, std::int64_t eos) -> std::string {
    std::ofstream(path, std::ios::binary) << sentencepiece_model(unk, bos, eos);
    try {
      Tokenizer tokenizer(path);
      (void)tokenizer.decode(tokenizer.encode("ab?"));
      return "";
    } catch (const InputError& e) {
      return e.what();
    }
  };
  EXPECT_EQ(message(9296, 1, 1), path + ": trainer_spec.unk_id is 9296, outside the 2 pieces");
  EXPECT_EQ(message(0, 2, 1), path + ": trainer_spec.bos_id is 2, outside the 2 pieces");
  EXPECT_EQ(message(0, 1, -5), path + ": trainer_spec.eos_id is -5, outside the 2 pieces");
  // -1 is SentencePiece's "none" for bos and eos: read, and asked for, it is named.
  std::ofstream(path, std::ios::binary) << sentencepiece_model(0, -1, -1);
  const Tokenizer none(path);
  EXPECT_TRUE(none.prefix_ids().empty());
  EXPECT_THROW(none.eos_id(), InputError);
  EXPECT_THROW(none.bos_id(), InputError);
  fs::remove_all(folder);
}

}  // namespace
}  // namespace acsweep::models
