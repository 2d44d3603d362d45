#pragma once
// The LLM's SentencePiece tokenizer (tokenizer.model of an HF folder) and the assembly of a
// prompt into token ids, a loss mask and the places of the image's visual tokens, the way LLaVA
// does it: the text is split at each image; "</s>" is the end-of-sequence token.
//
// Native: the model file's protobuf is read directly and BPE runs here. libsentencepiece cannot
// share a process with LibTorch (each carries its own protobuf runtime under the same symbol
// names, and the process crashes at start-up). Checked against Debian's python3-sentencepiece.
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "acsweep/data/llava.hpp"

namespace acsweep::models {

class Tokenizer {
 public:
  explicit Tokenizer(const std::string& model_path);  // InputError naming the file when unreadable
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  std::vector<std::int64_t> encode(const std::string& text) const;
  // Token ids of `text` with each token's byte range [begin, end) in `text`.
  std::vector<std::int64_t> encode(const std::string& text,
                                   std::vector<std::pair<std::size_t, std::size_t>>& spans) const;
  std::string decode(const std::vector<std::int64_t>& ids) const;
  // The vocabulary's piece of `id` as the model file spells it ("▁the", "<0x0A>", "<s>").
  const std::string& piece(std::int64_t id) const;
  std::int64_t bos_id() const;
  std::int64_t eos_id() const;
  std::int64_t vocab_size() const;

 private:
  struct Model;
  std::unique_ptr<Model> model_;
  std::string path_;
};

struct TokenizedPrompt {
  std::vector<std::int64_t> ids;
  std::vector<bool> trainable;               // per id: the loss is taken on this token
  std::vector<std::size_t> image_positions;  // visual tokens go before ids[position]
};

TokenizedPrompt tokenize_prompt(const Tokenizer& tokenizer, const std::vector<data::PromptPiece>& pieces,
                                bool add_bos = true);

}  // namespace acsweep::models
