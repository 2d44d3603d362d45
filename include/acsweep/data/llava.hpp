#pragma once
// Captions and instructions in LLaVA JSON (shared/spec/ARCHITECTURE.md, "Data formats"): a list
// of {id, image, conversations: [{from, value}]}, images relative to an image folder. An image
// path is resolved inside that folder only: absolute paths and ".." escapes are refused. Items
// that cannot be used (no answer, missing image, a path escape) are skipped and counted, each
// with a message naming the file, the item and the id; the file itself must be a JSON list.
#include <string>
#include <vector>

namespace acsweep::data {

struct ConversationTurn {
  std::string from;  // "human" or "gpt"
  std::string value;
};

struct LlavaExample {
  std::string id;
  std::string image;  // absolute path inside the image folder; empty for text-only items
  std::vector<ConversationTurn> turns;
};

struct LlavaDataset {
  std::vector<LlavaExample> examples;
  std::vector<std::string> skipped;  // why each unusable item was left out
  std::vector<std::size_t> missing;  // the items (places in the file) left out for a missing image
};

// Every item's image is checked to exist, unless `known_missing` (ascending places in the file)
// says which are missing, as the rank that planned the job found them: then no image file is
// touched, and the same items are left out.
LlavaDataset read_llava_json(const std::string& json_path, const std::string& image_folder,
                             const std::vector<std::size_t>* known_missing = nullptr);

// `relative` resolved inside `folder`; InputError naming `where` for absolute paths and escapes.
std::string resolve_inside(const std::string& folder, const std::string& relative, const std::string& where);

// LLaVA's preprocess_multimodal for an item with an image: in each user turn that holds
// "<image>", every "<image>" is taken out and one put first, followed by a newline (LLaVA-665K
// writes some as "...\n<image>"); the turn is then stripped of surrounding whitespace. Other
// turns, and items without an image, are left as they are.
LlavaExample image_first(LlavaExample example);

// Whether Stage 2 trains the item, as LLaVA does, once image_first has put its image first: it
// shows its image once or never (then trained on its text), or has no image and no "<image>".
// Showing the image twice, or "<image>" without an image, leaves it out.
bool trained_in_stage2(const LlavaExample& example);

// A prompt as pieces: text, or the place of the image's visual tokens; trainable pieces carry
// the loss (the caption in Stage 1, the assistant's answers in Stage 2).
struct PromptPiece {
  enum class Kind { Text, Image } kind = Kind::Text;
  std::string text;
  bool trainable = false;
};

// Stage 1, LLaVA's "plain" template: the image, then the caption and a newline (trainable).
std::vector<PromptPiece> plain_template(const LlavaExample& example);
// Stage 2, LLaVA's vicuna_v1 template: the system line, then "USER: ... ASSISTANT: ...</s>"
// turns; "<image>" in a user turn marks where the visual tokens go.
std::vector<PromptPiece> vicuna_v1_template(const LlavaExample& example);

// The conversation template of Stage 2 and the benchmarks, as LLaVA names them; a job picks one
// with [llm] template (Stage 1 always uses plain).
// - vicuna_v1 (Vicuna, Llama 2): "SYSTEM USER: ... ASSISTANT: answer</s>USER: ...".
// - qwen_2 (Qwen2 and Qwen2.5; ChatML): "<|im_start|>system\nYou are a helpful
//   assistant.<|im_end|>\n<|im_start|>user\n...<|im_end|>\n<|im_start|>assistant\nanswer<|im_end|>\n".
//   The loss is on each answer and its <|im_end|>; a conversation ending with the user's turn ends
//   "<|im_start|>assistant\n", where the answer is generated (transformers' add_generation_prompt).
enum class ChatTemplate { vicuna_v1, qwen_2 };
ChatTemplate chat_template_named(const std::string& name);  // InputError listing the names
std::vector<PromptPiece> chat_prompt(ChatTemplate chat, const LlavaExample& example);
// Put before an answer scored after the prompt (the likelihood path): " " (vicuna_v1) or "".
const char* answer_lead(ChatTemplate chat);
// Where a generated answer is cut should the model start the next turn: "ASSISTANT:" (lmms-eval's
// stop string for vicuna_v1), or "" (qwen_2: the end-of-turn token, the tokenizer's EOS, ends it).
const char* next_turn_marker(ChatTemplate chat);
std::vector<PromptPiece> qwen_2_template(const LlavaExample& example);

inline constexpr const char* kImageToken = "<image>";
inline constexpr const char* kQwenSystem = "You are a helpful assistant.";  // LLaVA's conv_qwen_2
inline constexpr const char* kVicunaSystem =
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions.";

}  // namespace acsweep::data
