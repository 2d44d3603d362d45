#include "acsweep/models/tokenizer.hpp"

#include <sentencepiece_processor.h>

#include "acsweep/error.hpp"

namespace acsweep::models {
namespace {

constexpr const char* kEndOfSequence = "</s>";

struct Span {
  std::size_t begin, end;
  bool trainable;
};

}  // namespace

Tokenizer::Tokenizer(const std::string& model_path)
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()), path_(model_path) {
  const auto status = processor_->Load(model_path);
  if (!status.ok()) throw InputError(model_path + ": not a SentencePiece model: " + status.ToString());
}

Tokenizer::~Tokenizer() = default;

std::vector<std::int64_t> Tokenizer::encode(const std::string& text) const {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  return encode(text, spans);
}

std::vector<std::int64_t> Tokenizer::encode(const std::string& text,
                                            std::vector<std::pair<std::size_t, std::size_t>>& spans) const {
  const auto proto = processor_->EncodeAsImmutableProto(text);
  std::vector<std::int64_t> ids;
  spans.clear();
  for (const auto& piece : proto.pieces()) {
    ids.push_back(piece.id());
    spans.emplace_back(piece.begin(), piece.end());
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<std::int64_t>& ids) const {
  std::vector<int> narrow(ids.begin(), ids.end());
  std::string text;
  const auto status = processor_->Decode(narrow, &text);
  if (!status.ok()) throw std::runtime_error(path_ + ": decode failed: " + status.ToString());
  return text;
}

std::int64_t Tokenizer::bos_id() const { return processor_->bos_id(); }
std::int64_t Tokenizer::eos_id() const { return processor_->eos_id(); }
std::int64_t Tokenizer::vocab_size() const { return processor_->GetPieceSize(); }

TokenizedPrompt tokenize_prompt(const Tokenizer& tokenizer, const std::vector<data::PromptPiece>& pieces, bool add_bos) {
  TokenizedPrompt out;
  if (add_bos) {
    out.ids.push_back(tokenizer.bos_id());
    out.trainable.push_back(false);
  }
  // Text between images is encoded as one chunk; "</s>" inside it is the end-of-sequence token
  // and splits it further, as Hugging Face's Llama tokenizer treats special tokens.
  std::string chunk;
  std::vector<Span> marks;  // which bytes of the chunk carry the loss
  auto encode_text = [&](std::size_t begin, std::size_t end) {
    if (begin == end) return;
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    const auto ids = tokenizer.encode(chunk.substr(begin, end - begin), spans);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      bool trainable = false;
      for (const Span& m : marks)
        trainable |= m.trainable && begin + spans[i].first < m.end && begin + spans[i].second > m.begin;
      out.ids.push_back(ids[i]);
      out.trainable.push_back(trainable);
    }
  };
  auto flush = [&] {
    std::size_t start = 0;
    for (std::size_t at = chunk.find(kEndOfSequence); at != std::string::npos; at = chunk.find(kEndOfSequence, start)) {
      encode_text(start, at);
      bool trainable = false;
      for (const Span& m : marks) trainable |= m.trainable && at < m.end && at + 4 > m.begin;
      out.ids.push_back(tokenizer.eos_id());
      out.trainable.push_back(trainable);
      start = at + 4;
    }
    encode_text(start, chunk.size());
    chunk.clear();
    marks.clear();
  };
  for (const auto& piece : pieces) {
    if (piece.kind == data::PromptPiece::Kind::Image) {
      flush();
      out.image_positions.push_back(out.ids.size());
      continue;
    }
    marks.push_back({chunk.size(), chunk.size() + piece.text.size(), piece.trainable});
    chunk += piece.text;
  }
  flush();
  return out;
}

}  // namespace acsweep::models
