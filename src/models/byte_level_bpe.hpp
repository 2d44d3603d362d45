#pragma once
// Hugging Face's tokenizer.json with a byte-level BPE model (Qwen2 and Qwen2.5, Llama 3, GPT-2,
// Mistral-Nemo), read natively: private to models::Tokenizer (models/tokenizer.hpp), which
// presents it and SentencePiece's tokenizer.model behind one interface.
//
// As the `tokenizers` library encodes with its defaults: added and special tokens are matched in
// the raw text first (leftmost, longest; lstrip and rstrip honoured); each stretch between them is
// normalised (NFC, NFD, NFKC, NFKD, or none) and split by the pre-tokenizer (Split with the file's
// regex, through PCRE2 with Unicode properties, and ByteLevel, with GPT-2's regex when use_regex);
// each piece's bytes become the byte-to-unicode alphabet's characters and are merged by rank.
// What the file asks for beyond that (another model type, normaliser or pre-tokenizer,
// single_word tokens, dropout) is refused, naming the file and the key.
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace acsweep::models {

// tokenizer_config.json beside the tokenizer file `model_path`: its path, and its contents parsed
// (null when there is no such file). InputError naming it when it is not JSON. Both tokenizer
// kinds read it: SentencePiece's add_bos_token / add_eos_token, tokenizer.json's eos_token.
struct TokenizerConfig {
  std::filesystem::path path;
  nlohmann::json doc;
};
TokenizerConfig read_tokenizer_config(const std::string& model_path);

class ByteLevelBpe {
 public:
  // `path`: tokenizer.json; tokenizer_config.json beside it, when present, names the
  // end-of-sequence token (eos_token). InputError naming the file and key when unreadable.
  explicit ByteLevelBpe(const std::string& path);
  ~ByteLevelBpe();
  ByteLevelBpe(const ByteLevelBpe&) = delete;
  ByteLevelBpe& operator=(const ByteLevelBpe&) = delete;

  // Ids of `text` without the post-processor's tokens; spans: each id's bytes [begin, end) in
  // `text` (a stretch that normalisation changed gives its tokens the whole stretch).
  // InputError when `text` is not valid UTF-8.
  std::vector<std::int64_t> encode(const std::string& text,
                                   std::vector<std::pair<std::size_t, std::size_t>>& spans) const;
  // Back to bytes and UTF-8; special tokens are left out (tokenizers' skip_special_tokens).
  std::string decode(const std::vector<std::int64_t>& ids) const;
  const std::string& piece(std::int64_t id) const;  // std::out_of_range outside the vocabulary
  std::int64_t vocab_size() const;
  // The post-processor's tokens around a single text (Llama 3: <|begin_of_text|> in front).
  const std::vector<std::int64_t>& prefix() const;
  const std::vector<std::int64_t>& suffix() const;
  // tokenizer_config.json's eos_token; InputError naming the files when there is none.
  std::int64_t eos_id() const;

 private:
  struct Model;
  std::unique_ptr<Model> model_;
};

}  // namespace acsweep::models
