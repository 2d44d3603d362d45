#pragma once
// The LLM's tokenizer, of either kind an HF folder ships, and the assembly of a prompt into token
// ids, a loss mask and the places of the image's visual tokens, the way LLaVA does it: the text is
// split at each image.
// - SentencePiece's tokenizer.model (Llama 2, Vicuna): the model file's protobuf is read directly
//   and BPE runs here; "</s>" in a prompt is the end-of-sequence token. libsentencepiece cannot
//   share a process with LibTorch (each carries its own protobuf runtime under the same symbol
//   names, and the process crashes at start-up). Checked against sentencepiece.
// - Hugging Face's tokenizer.json with byte-level BPE (Qwen2.5, Llama 3): added and special
//   tokens ("<|im_end|>") are matched in the text (models/byte_level_bpe.hpp). Checked against
//   the tokenizers library.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "acsweep/data/llava.hpp"

namespace acsweep::models {

class ByteLevelBpe;

class Tokenizer {
 public:
  enum class Format { sentencepiece, byte_level_bpe };
  // `model_path`: a tokenizer.json (any *.json) is byte-level BPE, anything else a SentencePiece
  // model. tokenizer_config.json beside it is read too: add_bos_token and add_eos_token for
  // SentencePiece (transformers' Llama defaults: true, false), eos_token for tokenizer.json.
  // InputError naming the file (and key) when unreadable.
  explicit Tokenizer(const std::string& model_path);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  std::vector<std::int64_t> encode(const std::string& text) const;
  // Token ids of `text` with each token's byte range [begin, end) in `text`.
  std::vector<std::int64_t> encode(const std::string& text,
                                   std::vector<std::pair<std::size_t, std::size_t>>& spans) const;
  // Back to text; control and special tokens are left out.
  std::string decode(const std::vector<std::int64_t>& ids) const;
  // The vocabulary's piece of `id` as the model file spells it ("▁the", "<0x0A>", "<s>").
  const std::string& piece(std::int64_t id) const;
  // The tokens the model's tokenizer puts around a whole text by default: BOS in front for Llama
  // 2 and Llama 3, nothing for Qwen2.5.
  const std::vector<std::int64_t>& prefix_ids() const;
  const std::vector<std::int64_t>& suffix_ids() const;
  std::int64_t bos_id() const;  // SentencePiece's; tokenizer.json: the prefix's, InputError without one
  std::int64_t eos_id() const;  // InputError when the tokenizer names none (tokenizer.json)
  std::int64_t vocab_size() const;
  Format format() const { return bpe_ ? Format::byte_level_bpe : Format::sentencepiece; }

 private:
  struct Model;
  std::unique_ptr<Model> model_;       // SentencePiece
  std::unique_ptr<ByteLevelBpe> bpe_;  // or tokenizer.json
  std::string path_;
  std::vector<std::int64_t> prefix_, suffix_;
};

// The tokenizer file of `path`: itself when a file; in a folder, tokenizer.model where there is
// one (LLaVA loads Vicuna's with use_fast=False), else tokenizer.json. InputError naming the
// folder when it has neither.
std::string tokenizer_file(const std::string& path);

struct TokenizedPrompt {
  std::vector<std::int64_t> ids;
  std::vector<bool> trainable;               // per id: the loss is taken on this token
  std::vector<std::size_t> image_positions;  // visual tokens go before ids[position]
};

// `add_prefix`: the tokenizer's prefix_ids() in front (BOS, where the model has one).
TokenizedPrompt tokenize_prompt(const Tokenizer& tokenizer, const std::vector<data::PromptPiece>& pieces,
                                bool add_prefix = true);

}  // namespace acsweep::models
