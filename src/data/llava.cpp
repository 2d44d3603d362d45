#include "acsweep/data/llava.hpp"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "acsweep/bounded_read.hpp"
#include "acsweep/error.hpp"
#include "acsweep/path_checks.hpp"

namespace fs = std::filesystem;

namespace acsweep::data {
namespace {

// Text with each "<image>" turned into an image piece.
void append_with_images(std::vector<PromptPiece>& pieces, const std::string& text, bool trainable) {
  std::size_t start = 0;
  while (true) {
    const std::size_t at = text.find(kImageToken, start);
    const std::string part = text.substr(start, at == std::string::npos ? std::string::npos : at - start);
    if (!part.empty()) pieces.push_back({PromptPiece::Kind::Text, part, trainable});
    if (at == std::string::npos) return;
    pieces.push_back({PromptPiece::Kind::Image, "", false});
    start = at + std::string(kImageToken).size();
  }
}

}  // namespace

std::string resolve_inside(const std::string& folder, const std::string& relative, const std::string& where) {
  const fs::path path(relative);
  if (relative.empty()) throw InputError(where + ": empty image path");
  if (path.is_absolute())
    throw InputError(where + ": image path '" + relative +
                     "' is absolute; paths are relative to the image folder");
  for (const auto& part : path.lexically_normal())
    if (part == "..") throw InputError(where + ": image path '" + relative + "' leaves the image folder");
  return (fs::path(folder) / path).lexically_normal().string();
}

LlavaDataset read_llava_json(const std::string& json_path, const std::string& image_folder,
                             const std::vector<std::size_t>* known_missing) {
  const std::string text = read_bounded(json_path, kMaxLlavaJsonBytes, "the LLaVA JSON file");
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(json_path + ": not JSON: " + e.what());
  }
  if (!doc.is_array()) throw InputError(json_path + ": expected a JSON list of examples");

  LlavaDataset out;
  for (std::size_t i = 0; i < doc.size(); ++i) {
    const auto& item = doc[i];
    std::string where = json_path + ": item " + std::to_string(i);
    try {
      if (!item.is_object()) throw InputError(where + ": not an object");
      LlavaExample example;
      if (item.contains("id"))
        example.id = item["id"].is_string() ? item["id"].get<std::string>() : item["id"].dump();
      where += " (id " + example.id + ")";
      if (!item.contains("conversations") || !item["conversations"].is_array() ||
          item["conversations"].empty())
        throw InputError(where + ": no conversations");
      for (const auto& turn : item["conversations"]) {
        if (!turn.is_object() || !turn.contains("from") || !turn.contains("value") ||
            !turn["from"].is_string() || !turn["value"].is_string())
          throw InputError(where + ": a turn without 'from' and 'value' strings");
        const std::string from = turn["from"].get<std::string>();
        if (from != "human" && from != "gpt") throw InputError(where + ": unknown speaker '" + from + "'");
        example.turns.push_back({from, turn["value"].get<std::string>()});
      }
      bool answered = false;
      for (const auto& turn : example.turns) answered |= turn.from == "gpt" && !turn.value.empty();
      if (!answered) throw InputError(where + ": no answer (no non-empty 'gpt' turn)");
      if (item.contains("image")) {
        if (!item["image"].is_string()) throw InputError(where + ": 'image' is not a path");
        example.image = resolve_inside(image_folder, item["image"].get<std::string>(), where);
        if (known_missing ? std::binary_search(known_missing->begin(), known_missing->end(), i)
                          : !is_file(example.image)) {
          out.missing.push_back(i);
          throw InputError(where + ": image " + example.image + " is missing");
        }
      }
      out.examples.push_back(std::move(example));
    } catch (const InputError& e) {
      out.skipped.push_back(e.what());
    }
  }
  return out;
}

LlavaExample image_first(LlavaExample example) {
  if (example.image.empty()) return example;
  const std::string token = kImageToken, space = " \t\n\r\v\f";
  const auto strip = [&space](const std::string& text) {
    const auto begin = text.find_first_not_of(space);
    return begin == std::string::npos ? std::string()
                                      : text.substr(begin, text.find_last_not_of(space) - begin + 1);
  };
  for (auto& turn : example.turns) {
    if (turn.from != "human" || turn.value.find(token) == std::string::npos) continue;
    std::string rest = turn.value;
    for (auto at = rest.find(token); at != std::string::npos; at = rest.find(token, at))
      rest.erase(at, token.size());
    turn.value = strip(token + "\n" + strip(rest));
  }
  return example;
}

bool trained_in_stage2(const LlavaExample& example) {
  std::size_t shown = 0;  // the image pieces vicuna_v1_template makes: "<image>" in user turns
  for (const auto& turn : image_first(example).turns)
    for (auto at = turn.value.find(kImageToken); turn.from == "human" && at != std::string::npos;
         at = turn.value.find(kImageToken, at + 1))
      ++shown;
  return example.image.empty() ? shown == 0 : shown <= 1;
}

std::vector<PromptPiece> plain_template(const LlavaExample& example) {
  // LLaVA's pretraining data: the human turn is just the image, the gpt turn the caption.
  std::string caption;
  for (const auto& turn : example.turns)
    if (turn.from == "gpt") {
      caption = turn.value;
      break;
    }
  return {{PromptPiece::Kind::Image, "", false}, {PromptPiece::Kind::Text, caption + "\n", true}};
}

std::vector<PromptPiece> vicuna_v1_template(const LlavaExample& example) {
  std::vector<PromptPiece> pieces{{PromptPiece::Kind::Text, std::string(kVicunaSystem) + " ", false}};
  for (const auto& turn : example.turns) {
    if (turn.from == "human") {
      pieces.push_back({PromptPiece::Kind::Text, "USER: ", false});
      append_with_images(pieces, turn.value, false);
      pieces.push_back({PromptPiece::Kind::Text, " ASSISTANT:", false});
    } else {
      // The answer, its leading space and the end-of-turn marker carry the loss.
      pieces.push_back({PromptPiece::Kind::Text, " " + turn.value + "</s>", true});
    }
  }
  return pieces;
}

std::vector<PromptPiece> qwen_2_template(const LlavaExample& example) {
  std::vector<PromptPiece> pieces{
      {PromptPiece::Kind::Text, std::string("<|im_start|>system\n") + kQwenSystem + "<|im_end|>\n", false}};
  for (const auto& turn : example.turns) {
    if (turn.from == "human") {
      pieces.push_back({PromptPiece::Kind::Text, "<|im_start|>user\n", false});
      append_with_images(pieces, turn.value, false);
      pieces.push_back({PromptPiece::Kind::Text, "<|im_end|>\n<|im_start|>assistant\n", false});
    } else {
      // The answer and its end-of-turn token carry the loss; the newline after it does not.
      pieces.push_back({PromptPiece::Kind::Text, turn.value + "<|im_end|>", true});
      pieces.push_back({PromptPiece::Kind::Text, "\n", false});
    }
  }
  return pieces;
}

ChatTemplate chat_template_named(const std::string& name) {
  if (name == "vicuna_v1") return ChatTemplate::vicuna_v1;
  if (name == "qwen_2") return ChatTemplate::qwen_2;
  throw InputError("conversation template '" + name + "' is not vicuna_v1 or qwen_2");
}

std::vector<PromptPiece> chat_prompt(ChatTemplate chat, const LlavaExample& example) {
  return chat == ChatTemplate::qwen_2 ? qwen_2_template(example) : vicuna_v1_template(example);
}

const char* answer_lead(ChatTemplate chat) { return chat == ChatTemplate::qwen_2 ? "" : " "; }

const char* next_turn_marker(ChatTemplate chat) { return chat == ChatTemplate::qwen_2 ? "" : "ASSISTANT:"; }

}  // namespace acsweep::data
