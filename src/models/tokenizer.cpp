#include "acsweep/models/tokenizer.hpp"

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <queue>

#include "acsweep/bounded_read.hpp"
#include "acsweep/error.hpp"
#include "acsweep/path_checks.hpp"
#include "byte_level_bpe.hpp"

namespace acsweep::models {
namespace {

constexpr const char* kEndOfSequence = "</s>";
constexpr const char* kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

// Just enough of the protobuf wire format to read a SentencePiece ModelProto.
class WireReader {
 public:
  WireReader(const std::string& bytes, std::size_t begin, std::size_t end, const std::string& file)
      : bytes_(bytes), at_(begin), end_(end), file_(file) {}
  bool done() const { return at_ >= end_; }
  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ >= end_) fail("truncated varint");
      const auto byte = static_cast<unsigned char>(bytes_[at_++]);
      value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return value;
    }
    fail("varint too long");
  }
  // Next field: number and wire type; its payload is read with the calls below.
  std::pair<std::uint32_t, int> key() {
    const std::uint64_t k = varint();
    return {static_cast<std::uint32_t>(k >> 3), static_cast<int>(k & 7)};
  }
  std::pair<std::size_t, std::size_t> length_delimited() {
    const std::uint64_t n = varint();
    if (n > end_ - at_) fail("field longer than the file");
    const std::size_t begin = at_;
    at_ += n;
    return {begin, at_};
  }
  float fixed32_float() {
    if (end_ - at_ < 4) fail("truncated float");
    float f;
    std::memcpy(&f, bytes_.data() + at_, 4);
    at_ += 4;
    return f;
  }
  void skip(int wire_type) {
    switch (wire_type) {
      case 0:
        varint();
        return;
      case 1:
        if (end_ - at_ < 8) fail("truncated field");
        at_ += 8;
        return;
      case 2:
        length_delimited();
        return;
      case 5:
        if (end_ - at_ < 4) fail("truncated field");
        at_ += 4;
        return;
      default:
        fail("unknown wire type " + std::to_string(wire_type));
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(file_ + ": not a SentencePiece model (" + why + " at byte " + std::to_string(at_) + ")");
  }
  const std::string& bytes_;
  std::size_t at_, end_;
  const std::string& file_;
};

std::size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  if ((lead >> 3) == 0x1E) return 4;
  return 1;  // invalid byte: a symbol of its own (byte fallback covers it)
}

struct Span {
  std::size_t begin, end;
  bool trainable;
};

// The byte a byte piece stands for ("<0x0A>": 10), or -1 when `text` is not spelled so.
int byte_of_piece(const std::string& text) {
  const auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
  };
  if (text.size() != 6 || text.compare(0, 3, "<0x") != 0 || text[5] != '>') return -1;
  const int high = hex(text[3]), low = hex(text[4]);
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

// tokenizer_config.json's add_bos_token / add_eos_token, or `otherwise` where it does not say.
bool config_flag(const TokenizerConfig& config, const char* key, bool otherwise) {
  const nlohmann::json& doc = config.doc;
  if (!doc.is_object() || !doc.contains(key) || doc[key].is_null()) return otherwise;
  if (!doc[key].is_boolean())
    throw InputError(config.path.string() + ": key '" + key + "' is not true or false");
  return doc[key].get<bool>();
}

// A SentencePiece model's bos or eos id, which may be -1 ("none"): asked for, that is named.
std::int64_t sentencepiece_special(const std::string& path, const char* key, std::int64_t id,
                                   const char* end) {
  if (id < 0)
    throw InputError(path + ": the model's trainer_spec." + key + " is -1: it has no " + end +
                     " of sequence");
  return id;
}

}  // namespace

struct Tokenizer::Model {
  enum PieceType { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<int> types;
  std::unordered_map<std::string, std::int64_t> id_of;  // normal and user-defined pieces
  std::int64_t byte_id[256];
  bool byte_fallback = false;
  bool add_dummy_prefix = true;
  bool escape_whitespaces = true;
  std::int64_t unk = 0, bos = 1, eos = 2;
};

Tokenizer::Tokenizer(const std::string& model_path) : path_(model_path) {
  if (std::filesystem::path(model_path).extension() == ".json") {
    bpe_ = std::make_unique<ByteLevelBpe>(model_path);
    prefix_ = bpe_->prefix();
    suffix_ = bpe_->suffix();
    return;
  }
  model_ = std::make_unique<Model>();
  const std::string bytes = read_bounded(model_path, kMaxTokenizerBytes, "the tokenizer model");
  Model& m = *model_;
  std::fill(std::begin(m.byte_id), std::end(m.byte_id), -1);
  int model_type = 1;  // unigram unless the trainer spec says otherwise
  WireReader top(bytes, 0, bytes.size(), model_path);
  while (!top.done()) {
    const auto [field, wire] = top.key();
    if (field == 1 && wire == 2) {  // SentencePiece
      const auto [b, e] = top.length_delimited();
      WireReader piece(bytes, b, e, model_path);
      std::string text;
      float score = 0;
      int type = Model::kNormal;
      while (!piece.done()) {
        const auto [f, w] = piece.key();
        if (f == 1 && w == 2) {
          const auto [pb, pe] = piece.length_delimited();
          text = bytes.substr(pb, pe - pb);
        } else if (f == 2 && w == 5) {
          score = piece.fixed32_float();
        } else if (f == 3 && w == 0) {
          type = static_cast<int>(piece.varint());
        } else {
          piece.skip(w);
        }
      }
      const auto id = static_cast<std::int64_t>(m.pieces.size());
      if (type == Model::kNormal || type == Model::kUserDefined) m.id_of.emplace(text, id);
      if (type == Model::kByte) {
        const int byte = byte_of_piece(text);
        if (byte < 0)
          throw InputError(model_path + ": piece " + std::to_string(id) + " is a byte piece spelled '" +
                           text + "', not <0xHH>: not a SentencePiece model");
        m.byte_id[byte] = id;
      }
      m.pieces.push_back(text);
      m.scores.push_back(score);
      m.types.push_back(type);
    } else if ((field == 2 || field == 3) && wire == 2) {  // TrainerSpec, NormalizerSpec
      const auto [b, e] = top.length_delimited();
      WireReader spec(bytes, b, e, model_path);
      while (!spec.done()) {
        const auto [f, w] = spec.key();
        if (w != 0) {
          spec.skip(w);
          continue;
        }
        const auto value = static_cast<std::int64_t>(spec.varint());  // int32 -1 arrives sign-extended
        if (field == 2 && f == 3) model_type = static_cast<int>(value);
        if (field == 2 && f == 35) m.byte_fallback = value != 0;
        if (field == 2 && f == 40) m.unk = value;
        if (field == 2 && f == 41) m.bos = value;
        if (field == 2 && f == 42) m.eos = value;
        if (field == 3 && f == 3) m.add_dummy_prefix = value != 0;
        if (field == 3 && f == 5) m.escape_whitespaces = value != 0;
      }
    } else {
      top.skip(wire);
    }
  }
  if (m.pieces.empty()) throw InputError(model_path + ": a SentencePiece model without pieces");
  if (model_type != 2)
    throw InputError(model_path + ": a SentencePiece model of type " + std::to_string(model_type) +
                     "; only BPE models (the Llama family's) are supported");
  // The special ids index the pieces: unk must (every unknown piece is encoded as it), bos and
  // eos may be -1, SentencePiece's "none".
  const auto size = static_cast<std::int64_t>(m.pieces.size());
  const auto check_id = [&](const char* key, std::int64_t id, bool may_be_none) {
    if ((id < 0 || id >= size) && !(may_be_none && id == -1))
      throw InputError(model_path + ": trainer_spec." + key + " is " + std::to_string(id) + ", outside the " +
                       std::to_string(size) + " pieces");
  };
  check_id("unk_id", m.unk, false);
  check_id("bos_id", m.bos, true);
  check_id("eos_id", m.eos, true);
  const TokenizerConfig config = read_tokenizer_config(model_path);
  if (config_flag(config, "add_bos_token", true) && m.bos >= 0) prefix_.push_back(m.bos);
  if (config_flag(config, "add_eos_token", false) && m.eos >= 0) suffix_.push_back(m.eos);
}

Tokenizer::~Tokenizer() = default;

std::vector<std::int64_t> Tokenizer::encode(const std::string& text) const {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  return encode(text, spans);
}

std::vector<std::int64_t> Tokenizer::encode(const std::string& text,
                                            std::vector<std::pair<std::size_t, std::size_t>>& spans) const {
  if (bpe_) return bpe_->encode(text, spans);
  const Model& m = *model_;
  spans.clear();
  if (text.empty()) return {};
  // Symbols: UTF-8 characters, spaces written as U+2581, one more in front (the dummy prefix);
  // each remembers the bytes of `text` it came from.
  struct Symbol {
    std::string text;
    std::size_t begin, end;
    int prev, next;
    bool alive;
  };
  std::vector<Symbol> symbols;
  if (m.add_dummy_prefix) symbols.push_back({kSpaceMark, 0, 0, -1, -1, true});
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = std::min(utf8_length(static_cast<unsigned char>(text[i])), text.size() - i);
    const std::string ch = text.substr(i, n);
    symbols.push_back({m.escape_whitespaces && ch == " " ? kSpaceMark : ch, i, i + n, -1, -1, true});
    i += n;
  }
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    symbols[i].prev = static_cast<int>(i) - 1;
    symbols[i].next = i + 1 < symbols.size() ? static_cast<int>(i) + 1 : -1;
  }
  // BPE as SentencePiece does it: repeatedly merge the adjacent pair that forms the piece with
  // the highest score, the leftmost one on a tie.
  struct Candidate {
    float score;
    int left, right;
    std::size_t size;  // the merged text's length when queued: stale entries are skipped
    bool operator<(const Candidate& o) const {
      return score < o.score || (score == o.score && left > o.left);
    }
  };
  std::priority_queue<Candidate> queue;
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const auto it = m.id_of.find(symbols[left].text + symbols[right].text);
    if (it == m.id_of.end() || m.types[static_cast<std::size_t>(it->second)] != Model::kNormal) return;
    queue.push({m.scores[static_cast<std::size_t>(it->second)], left, right,
                symbols[left].text.size() + symbols[right].text.size()});
  };
  for (std::size_t i = 0; i + 1 < symbols.size(); ++i) consider(static_cast<int>(i), static_cast<int>(i) + 1);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol &left = symbols[static_cast<std::size_t>(c.left)],
           &right = symbols[static_cast<std::size_t>(c.right)];
    if (!left.alive || !right.alive || left.next != c.right || left.text.size() + right.text.size() != c.size)
      continue;
    left.text += right.text;
    left.end = right.end;
    left.next = right.next;
    right.alive = false;
    if (right.next >= 0) symbols[static_cast<std::size_t>(right.next)].prev = c.left;
    consider(left.prev, c.left);
    consider(c.left, left.next);
  }
  std::vector<std::int64_t> ids;
  for (int i = 0; i >= 0 && i < static_cast<int>(symbols.size());
       i = symbols[static_cast<std::size_t>(i)].next) {
    const Symbol& s = symbols[static_cast<std::size_t>(i)];
    const auto it = m.id_of.find(s.text);
    if (it != m.id_of.end()) {
      ids.push_back(it->second);
      spans.emplace_back(s.begin, s.end);
    } else if (m.byte_fallback) {  // one token per UTF-8 byte
      for (std::size_t b = 0; b < s.text.size(); ++b) {
        const std::int64_t id = m.byte_id[static_cast<unsigned char>(s.text[b])];
        ids.push_back(id >= 0 ? id : m.unk);
        spans.emplace_back(s.begin, s.end);
      }
    } else {
      ids.push_back(m.unk);
      spans.emplace_back(s.begin, s.end);
    }
  }
  return ids;
}

std::string Tokenizer::decode(const std::vector<std::int64_t>& ids) const {
  if (bpe_) return bpe_->decode(ids);
  const Model& m = *model_;
  std::string text;
  for (std::int64_t id : ids) {
    const std::string& spelled = piece(id);  // out_of_range for an id outside the vocabulary
    const auto type = m.types[static_cast<std::size_t>(id)];
    if (type == Model::kControl || type == Model::kUnused) continue;
    if (type == Model::kByte) {
      text += static_cast<char>(byte_of_piece(spelled));  // checked when the model was read
      continue;
    }
    if (type == Model::kUnknown) {
      text += " \xE2\x81\x87 ";  // SentencePiece's rendering of <unk>
      continue;
    }
    text += spelled;
  }
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (text.compare(i, 3, kSpaceMark) == 0) {
      out += ' ';
      i += 3;
    } else {
      out += text[i++];
    }
  }
  if (m.add_dummy_prefix && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

const std::string& Tokenizer::piece(std::int64_t id) const {
  if (bpe_) return bpe_->piece(id);
  if (id < 0 || id >= static_cast<std::int64_t>(model_->pieces.size()))
    throw std::out_of_range(path_ + ": token id " + std::to_string(id));
  return model_->pieces[static_cast<std::size_t>(id)];
}

std::int64_t Tokenizer::bos_id() const {
  if (!bpe_) return sentencepiece_special(path_, "bos_id", model_->bos, "beginning");
  if (prefix_.empty()) throw InputError(path_ + ": the tokenizer puts no BOS token in front of a text");
  return prefix_.front();
}
std::int64_t Tokenizer::eos_id() const {
  return bpe_ ? bpe_->eos_id() : sentencepiece_special(path_, "eos_id", model_->eos, "end");
}
std::int64_t Tokenizer::vocab_size() const {
  return bpe_ ? bpe_->vocab_size() : static_cast<std::int64_t>(model_->pieces.size());
}
const std::vector<std::int64_t>& Tokenizer::prefix_ids() const { return prefix_; }
const std::vector<std::int64_t>& Tokenizer::suffix_ids() const { return suffix_; }

std::string tokenizer_file(const std::string& path) {
  namespace fs = std::filesystem;
  if (!is_folder(path)) {
    if (!path_exists(path)) throw InputError("no such tokenizer file: " + path);
    return path;
  }
  for (const char* name : {"tokenizer.model", "tokenizer.json"})
    if (path_exists(fs::path(path) / name)) return (fs::path(path) / name).string();
  throw InputError(path + ": no tokenizer.model or tokenizer.json in the folder");
}

TokenizedPrompt tokenize_prompt(const Tokenizer& tokenizer, const std::vector<data::PromptPiece>& pieces,
                                bool add_prefix) {
  TokenizedPrompt out;
  if (add_prefix)
    for (const auto id : tokenizer.prefix_ids()) {
      out.ids.push_back(id);
      out.trainable.push_back(false);
    }
  // Text between images is encoded as one chunk. For SentencePiece, "</s>" inside it is the
  // end-of-sequence token and splits it further, as Hugging Face's Llama tokenizer treats special
  // tokens; tokenizer.json's encode matches its special tokens itself.
  const std::string end_of_sequence =
      tokenizer.format() == Tokenizer::Format::sentencepiece ? kEndOfSequence : std::string();
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
    for (std::size_t at = end_of_sequence.empty() ? std::string::npos : chunk.find(end_of_sequence);
         at != std::string::npos; at = chunk.find(end_of_sequence, start)) {
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
