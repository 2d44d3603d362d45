#include "byte_level_bpe.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <queue>
#include <stdexcept>

#include "acsweep/bounded_read.hpp"
#include "acsweep/error.hpp"
#include "acsweep/path_checks.hpp"

namespace acsweep::models {
namespace {

using Spans = std::vector<std::pair<std::size_t, std::size_t>>;
using Json = nlohmann::json;

// GPT-2's pattern: ByteLevel's own split when its use_regex is on.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// GPT-2's byte-to-unicode map: printable Latin-1 bytes stand for themselves, the other bytes for
// U+0100 onwards in byte order, so that every byte is a visible character. As UTF-8.
std::array<std::string, 256> byte_alphabet() {
  std::array<std::string, 256> out;
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const int code = printable ? b : next++;
    std::string utf8;
    if (code < 0x80) {
      utf8 += static_cast<char>(code);
    } else {
      utf8 += static_cast<char>(0xC0 | (code >> 6));
      utf8 += static_cast<char>(0x80 | (code & 0x3F));
    }
    out[static_cast<std::size_t>(b)] = utf8;
  }
  return out;
}

// Index of the first byte that does not start valid UTF-8, or npos.
std::size_t invalid_utf8_at(const std::string& text) {
  for (std::size_t i = 0; i < text.size();) {
    utf8proc_int32_t code;
    const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + i),
                                    static_cast<utf8proc_ssize_t>(text.size() - i), &code);
    if (n <= 0) return i;
    i += static_cast<std::size_t>(n);
  }
  return std::string::npos;
}

bool ascii(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// A compiled PCRE2 pattern, shared by threads (each match has its own match data).
class Regex {
 public:
  Regex(const std::string& pattern, bool literal, const std::string& where) : where_(where) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                          PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0u), &error, &offset, nullptr);
    if (code_ == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      throw InputError(where + " is not a valid regular expression: " +
                       reinterpret_cast<const char*>(message) + " at offset " + std::to_string(offset));
    }
    pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);  // where JIT is unavailable, the interpreter matches
  }
  ~Regex() { pcre2_code_free(code_); }
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Every non-overlapping match in text[begin, end), in order; an empty match moves one character on.
  std::vector<std::pair<std::size_t, std::size_t>> find_all(const std::string& text, std::size_t begin,
                                                            std::size_t end) const {
    std::vector<std::pair<std::size_t, std::size_t>> out;
    std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
        pcre2_match_data_create_from_pattern(code_, nullptr), &pcre2_match_data_free);
    if (!data) throw std::bad_alloc();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + begin);
    const std::size_t length = end - begin;
    for (std::size_t at = 0; at < length;) {
      const int rc = pcre2_match(code_, subject, length, at, 0, data.get(), nullptr);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      if (rc < 0) {
        PCRE2_UCHAR message[256];
        pcre2_get_error_message(rc, message, sizeof message);
        // PCRE2's match limit (10 million steps) stops a pattern that backtracks without end.
        throw InputError(where_ + " failed to match: " + reinterpret_cast<const char*>(message));
      }
      const PCRE2_SIZE* match = pcre2_get_ovector_pointer(data.get());
      if (match[1] == match[0]) {  // empty: step over one UTF-8 character
        at = match[0] + 1;
        while (at < length && (static_cast<unsigned char>(text[begin + at]) & 0xC0) == 0x80) ++at;
        continue;
      }
      out.emplace_back(begin + match[0], begin + match[1]);
      at = match[1];
    }
    return out;
  }

 private:
  pcre2_code* code_ = nullptr;
  std::string where_;  // the file and key of the pattern, for messages
};

struct AddedToken {
  std::string content;
  std::int64_t id = 0;
  bool special = false, lstrip = false, rstrip = false;
};

// One pre-tokenizer step: Split by a pattern, or ByteLevel's optional prefix space and GPT-2 split.
struct PreTokenizer {
  enum class Kind { split, byte_level } kind = Kind::split;
  std::shared_ptr<Regex> regex;  // split, or byte_level with use_regex
  bool remove_matches = false;   // Split's "Removed" (otherwise "Isolated")
};

}  // namespace

struct ByteLevelBpe::Model {
  std::string path;
  std::unordered_map<std::string, std::int64_t> vocab;
  std::vector<std::string> pieces;  // by id; "" where no token has the id
  std::vector<bool> is_special;     // by id
  std::array<std::int64_t, 256> byte_id{};
  std::array<std::string, 256> alphabet = byte_alphabet();
  std::unordered_map<std::string, int> byte_of;  // the alphabet's characters back to bytes
  std::unordered_map<std::uint64_t, std::pair<std::int32_t, std::int64_t>> merges;  // (a, b) -> rank, a+b
  std::vector<AddedToken> added;
  bool ignore_merges = false;
  std::int64_t unk = -1;
  bool fuse_unk = false;
  utf8proc_option_t normalise = static_cast<utf8proc_option_t>(0);  // 0: none
  std::vector<PreTokenizer> pre;
  bool prefix_space = false;                             // ByteLevel's add_prefix_space
  std::array<std::vector<std::size_t>, 256> added_from;  // indices into `added` by first byte, longest first
  std::vector<bool> is_added;                            // by id
  std::vector<std::int64_t> prefix, suffix;
  std::int64_t eos = -1;
  std::string eos_why;

  static std::uint64_t key(std::int64_t a, std::int64_t b) {
    return (static_cast<std::uint64_t>(a) << 32) | static_cast<std::uint64_t>(b);
  }

  // Merges a piece's bytes by rank (the lowest first, the leftmost on a tie), as tokenizers' BPE
  // does: ids with each id's byte length.
  void merge(const std::string& bytes, std::size_t begin, std::size_t end,
             std::vector<std::pair<std::int64_t, std::size_t>>& out) const;
  std::vector<std::string> split(const std::string& text) const;
  std::int64_t id_of_token(const Json& token, const std::string& where) const;
};

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& key, const std::string& why) {
  throw InputError(path + ": '" + key + "' " + why);
}

const Json& member(const Json& doc, const char* key, const std::string& path, const std::string& prefix) {
  if (!doc.contains(key)) fail(path, prefix + key, "is missing");
  return doc[key];
}

utf8proc_option_t normaliser(const Json& doc, const std::string& path, const std::string& key) {
  if (doc.is_null()) return static_cast<utf8proc_option_t>(0);
  if (!doc.is_object() || !doc.contains("type") || !doc["type"].is_string())
    fail(path, key, "must be an object with a type");
  const std::string type = doc["type"].get<std::string>();
  if (type == "NFC") return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  if (type == "NFD") return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
  if (type == "NFKC")
    return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  if (type == "NFKD")
    return static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
  if (type == "Sequence") {
    const Json& steps = member(doc, "normalizers", path, key + ".");
    if (!steps.is_array() || steps.size() > 1)
      fail(path, key + ".normalizers", "must hold at most one Unicode normalisation");
    return steps.empty() ? static_cast<utf8proc_option_t>(0)
                         : normaliser(steps[0], path, key + ".normalizers[0]");
  }
  fail(path, key + ".type", "is '" + type + "'; only NFC, NFD, NFKC, NFKD or none are supported");
}

void pre_tokenizers(const Json& doc, const std::string& path, const std::string& key,
                    std::vector<PreTokenizer>& out, bool& prefix_space) {
  if (doc.is_null()) return;
  if (!doc.is_object() || !doc.contains("type") || !doc["type"].is_string())
    fail(path, key, "must be an object with a type");
  const std::string type = doc["type"].get<std::string>();
  if (type == "Sequence") {
    const Json& steps = member(doc, "pretokenizers", path, key + ".");
    if (!steps.is_array()) fail(path, key + ".pretokenizers", "must be an array");
    for (std::size_t i = 0; i < steps.size(); ++i)
      pre_tokenizers(steps[i], path, key + ".pretokenizers[" + std::to_string(i) + "]", out, prefix_space);
    return;
  }
  PreTokenizer step;
  if (type == "ByteLevel") {
    step.kind = PreTokenizer::Kind::byte_level;
    // tokenizers prepends the space to every piece so far: as the first step, to the whole stretch.
    if (doc.value("add_prefix_space", false)) {
      if (!out.empty())
        fail(path, key + ".add_prefix_space", "is true after another pre-tokenizer; not supported");
      prefix_space = true;
    }
    if (doc.value("use_regex", true))
      step.regex = std::make_shared<Regex>(kGpt2Pattern, false, "GPT-2's pattern");
  } else if (type == "Split") {
    const Json& pattern = member(doc, "pattern", path, key + ".");
    const std::string where = path + ": '" + key + ".pattern'";
    if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string())
      step.regex = std::make_shared<Regex>(pattern["Regex"].get<std::string>(), false, where);
    else if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string())
      step.regex = std::make_shared<Regex>(pattern["String"].get<std::string>(), true, where);
    else
      fail(path, key + ".pattern", "must be {\"Regex\": ...} or {\"String\": ...}");
    const std::string behaviour = doc.value("behavior", std::string("Isolated"));
    if (behaviour != "Isolated" && behaviour != "Removed")
      fail(path, key + ".behavior", "is '" + behaviour + "'; only Isolated and Removed are supported");
    step.remove_matches = behaviour == "Removed";
    if (doc.value("invert", false)) fail(path, key + ".invert", "is true; not supported");
  } else {
    fail(path, key + ".type", "is '" + type + "'; only ByteLevel, Split and Sequence are supported");
  }
  out.push_back(std::move(step));
}

}  // namespace

std::int64_t ByteLevelBpe::Model::id_of_token(const Json& token, const std::string& where) const {
  const std::string content =
      token.is_object() ? token.value("content", std::string()) : token.get<std::string>();
  for (const auto& a : added)
    if (a.content == content) return a.id;
  const auto it = vocab.find(content);
  if (it == vocab.end()) throw InputError(where + " is '" + content + "', which is not a token");
  return it->second;
}

ByteLevelBpe::ByteLevelBpe(const std::string& path) : model_(std::make_unique<Model>()) {
  Model& m = *model_;
  m.path = path;
  Json doc;
  try {
    doc = Json::parse(read_bounded(path, kMaxTokenizerBytes, "the tokenizer"));
  } catch (const Json::exception& e) {
    throw InputError(path + ": not JSON: " + e.what());
  }
  if (!doc.is_object()) throw InputError(path + ": must be a JSON object");
  try {
    const Json& model = member(doc, "model", path, "");
    if (!model.is_object()) fail(path, "model", "must be an object");
    const std::string type = model.value("type", std::string("BPE"));
    if (type != "BPE")
      fail(path, "model.type", "is '" + type + "'; only BPE (byte-level) is supported in tokenizer.json");
    if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"].get<double>() != 0)
      fail(path, "model.dropout", "is set; BPE dropout is for training, not supported");
    for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (model.contains(affix) && model[affix].is_string() && !model[affix].get<std::string>().empty())
        fail(path, std::string("model.") + affix, "is set; only byte-level BPE without affixes is supported");
    m.ignore_merges = model.value("ignore_merges", false);
    m.fuse_unk = model.value("fuse_unk", false);

    const Json& vocab = member(model, "vocab", path, "model.");
    if (!vocab.is_object() || vocab.empty()) fail(path, "model.vocab", "must be a non-empty object");
    std::int64_t largest = -1;
    const auto add_id = [&](const std::string& token, const Json& id, const std::string& where) {
      if (!id.is_number_integer() || id.get<std::int64_t>() < 0 ||
          id.get<std::int64_t>() >= (std::int64_t{1} << 24))
        fail(path, where, "has id " + id.dump() + ", not a whole number in [0, 2^24)");
      const std::int64_t n = id.get<std::int64_t>();
      largest = std::max(largest, n);
      if (static_cast<std::size_t>(n) >= m.pieces.size()) m.pieces.resize(static_cast<std::size_t>(n) + 1);
      m.pieces[static_cast<std::size_t>(n)] = token;
      return n;
    };
    m.vocab.reserve(vocab.size());
    for (const auto& [token, id] : vocab.items())
      m.vocab.emplace(token, add_id(token, id, "model.vocab." + token));

    const Json& merges = member(model, "merges", path, "model.");
    if (!merges.is_array()) fail(path, "model.merges", "must be an array");
    m.merges.reserve(merges.size());
    for (std::size_t rank = 0; rank < merges.size(); ++rank) {
      const std::string where = "model.merges[" + std::to_string(rank) + "]";
      const Json& merge = merges[rank];
      std::string a, b;
      if (merge.is_string()) {
        const std::string text = merge.get<std::string>();
        const auto space = text.find(' ');
        if (space == std::string::npos || text.find(' ', space + 1) != std::string::npos)
          fail(path, where, "is \"" + text + "\", not two tokens separated by one space");
        a = text.substr(0, space);
        b = text.substr(space + 1);
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
        a = merge[0].get<std::string>();
        b = merge[1].get<std::string>();
      } else {
        fail(path, where, "must be \"a b\" or [\"a\", \"b\"]");
      }
      const auto ia = m.vocab.find(a), ib = m.vocab.find(b), iab = m.vocab.find(a + b);
      if (ia == m.vocab.end() || ib == m.vocab.end() || iab == m.vocab.end())
        fail(path, where,
             "merges '" + a + "' and '" + b + "', but '" +
                 (ia == m.vocab.end()   ? a
                  : ib == m.vocab.end() ? b
                                        : a + b) +
                 "' is not in model.vocab");
      m.merges.try_emplace(Model::key(ia->second, ib->second), static_cast<std::int32_t>(rank), iab->second);
    }
    if (model.contains("unk_token") && model["unk_token"].is_string()) {
      const auto it = m.vocab.find(model["unk_token"].get<std::string>());
      if (it == m.vocab.end()) fail(path, "model.unk_token", "is not in model.vocab");
      m.unk = it->second;
    }

    if (doc.contains("added_tokens") && !doc["added_tokens"].is_null()) {
      const Json& added = doc["added_tokens"];
      if (!added.is_array()) fail(path, "added_tokens", "must be an array");
      for (std::size_t i = 0; i < added.size(); ++i) {
        const std::string where = "added_tokens[" + std::to_string(i) + "]";
        const Json& token = added[i];
        if (!token.is_object() || !token.contains("content") || !token["content"].is_string() ||
            token["content"].get<std::string>().empty())
          fail(path, where, "must be an object with a non-empty content");
        AddedToken t;
        t.content = token["content"].get<std::string>();
        t.id = add_id(t.content, member(token, "id", path, where + "."), where + ".id");
        t.special = token.value("special", false);
        t.lstrip = token.value("lstrip", false);
        t.rstrip = token.value("rstrip", false);
        if (token.value("single_word", false)) fail(path, where + ".single_word", "is true; not supported");
        m.added.push_back(std::move(t));
      }
    }
    // Longest first: the match at a position is the longest added token there.
    std::stable_sort(m.added.begin(), m.added.end(), [](const AddedToken& x, const AddedToken& y) {
      return x.content.size() > y.content.size();
    });
    m.is_special.assign(m.pieces.size(), false);
    m.is_added.assign(m.pieces.size(), false);
    for (std::size_t i = 0; i < m.added.size(); ++i) {
      const AddedToken& t = m.added[i];
      m.is_special[static_cast<std::size_t>(t.id)] = t.special;
      m.is_added[static_cast<std::size_t>(t.id)] = true;
      m.added_from[static_cast<unsigned char>(t.content[0])].push_back(i);
    }

    m.normalise = normaliser(doc.value("normalizer", Json()), path, "normalizer");
    pre_tokenizers(doc.value("pre_tokenizer", Json()), path, "pre_tokenizer", m.pre, m.prefix_space);
    const bool byte_level = std::any_of(m.pre.begin(), m.pre.end(), [](const PreTokenizer& p) {
      return p.kind == PreTokenizer::Kind::byte_level;
    });
    if (!byte_level) fail(path, "pre_tokenizer", "has no ByteLevel step; only byte-level BPE is supported");
    for (int b = 0; b < 256; ++b) {
      const auto it = m.vocab.find(m.alphabet[static_cast<std::size_t>(b)]);
      m.byte_id[static_cast<std::size_t>(b)] = it == m.vocab.end() ? -1 : it->second;
      m.byte_of.emplace(m.alphabet[static_cast<std::size_t>(b)], b);
    }

    // The post-processor's tokens around a single sequence (TemplateProcessing's "single").
    std::vector<Json> processors{doc.value("post_processor", Json())};
    if (processors[0].is_object() && processors[0].value("type", "") == "Sequence")
      processors = member(processors[0], "processors", path, "post_processor.").get<std::vector<Json>>();
    for (const Json& p : processors) {
      if (p.is_null()) continue;
      const std::string kind = p.is_object() ? p.value("type", "") : "";
      if (kind == "ByteLevel") continue;  // offsets only
      if (kind != "TemplateProcessing")
        fail(path, "post_processor.type",
             "is '" + kind + "'; only TemplateProcessing and ByteLevel are supported");
      bool after = false;
      for (const Json& item : member(p, "single", path, "post_processor.")) {
        if (item.contains("Sequence")) {
          after = true;
          continue;
        }
        const std::string name = item.at("SpecialToken").at("id").get<std::string>();
        for (const Json& id : p.at("special_tokens").at(name).at("ids"))
          (after ? m.suffix : m.prefix).push_back(id.get<std::int64_t>());
      }
    }
  } catch (const Json::exception& e) {
    throw InputError(path + ": unexpected structure: " + e.what());
  }

  const TokenizerConfig config = read_tokenizer_config(path);
  const Json& c = config.doc;
  m.eos_why = path + " names no end-of-sequence token and " + config.path.string();
  if (c.is_object() && c.contains("eos_token") && !c["eos_token"].is_null())
    m.eos = m.id_of_token(c["eos_token"], config.path.string() + ": 'eos_token'");
  else
    m.eos_why += c.is_null() ? " does not exist" : " has no eos_token";
}

TokenizerConfig read_tokenizer_config(const std::string& model_path) {
  TokenizerConfig config{std::filesystem::path(model_path).parent_path() / "tokenizer_config.json", nullptr};
  if (!path_exists(config.path)) return config;
  try {
    config.doc = Json::parse(read_bounded(config.path.string(), kMaxConfigBytes, "the tokenizer config"));
  } catch (const Json::exception& e) {
    throw InputError(config.path.string() + ": not JSON: " + e.what());
  }
  return config;
}

ByteLevelBpe::~ByteLevelBpe() = default;

void ByteLevelBpe::Model::merge(const std::string& bytes, std::size_t begin, std::size_t end,
                                std::vector<std::pair<std::int64_t, std::size_t>>& out) const {
  if (ignore_merges) {  // a piece that is a token stays whole
    std::string mapped;
    for (std::size_t i = begin; i < end; ++i) mapped += alphabet[static_cast<unsigned char>(bytes[i])];
    const auto it = vocab.find(mapped);
    if (it != vocab.end()) {
      out.emplace_back(it->second, end - begin);
      return;
    }
  }
  struct Symbol {
    std::int64_t id;
    std::size_t length;
    int prev, next;
  };
  std::vector<Symbol> symbols;
  symbols.reserve(end - begin);
  for (std::size_t i = begin; i < end; ++i) {
    const std::int64_t id = byte_id[static_cast<unsigned char>(bytes[i])];
    if (id < 0) {  // a byte the vocabulary lacks: <unk>, or left out as tokenizers does without one
      if (unk < 0) continue;
      if (fuse_unk && !symbols.empty() && symbols.back().id == unk) {
        ++symbols.back().length;
        continue;
      }
    }
    const int n = static_cast<int>(symbols.size());
    symbols.push_back({id < 0 ? unk : id, 1, n - 1, -1});
    if (n > 0) symbols[static_cast<std::size_t>(n - 1)].next = n;
  }
  struct Candidate {
    std::int32_t rank;
    int at;
    std::int64_t merged;
    bool operator>(const Candidate& o) const { return rank > o.rank || (rank == o.rank && at > o.at); }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto consider = [&](int at) {
    if (at < 0) return;
    const Symbol& s = symbols[static_cast<std::size_t>(at)];
    if (s.next < 0) return;
    const auto it = merges.find(key(s.id, symbols[static_cast<std::size_t>(s.next)].id));
    if (it != merges.end()) queue.push({it->second.first, at, it->second.second});
  };
  for (int i = 0; i < static_cast<int>(symbols.size()); ++i) consider(i);
  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    Symbol& left = symbols[static_cast<std::size_t>(c.at)];
    if (left.length == 0 || left.next < 0) continue;  // merged away, or the last
    const auto it = merges.find(key(left.id, symbols[static_cast<std::size_t>(left.next)].id));
    if (it == merges.end() || it->second.second != c.merged) continue;  // a neighbour changed
    Symbol& right = symbols[static_cast<std::size_t>(left.next)];
    left.id = c.merged;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (left.next >= 0) symbols[static_cast<std::size_t>(left.next)].prev = c.at;
    consider(left.prev);
    consider(c.at);
  }
  for (const Symbol& s : symbols)
    if (s.length > 0) out.emplace_back(s.id, s.length);
}

std::vector<std::int64_t> ByteLevelBpe::encode(const std::string& text, Spans& spans) const {
  const Model& m = *model_;
  spans.clear();
  const std::size_t bad = invalid_utf8_at(text);
  if (bad != std::string::npos)
    throw InputError(m.path + ": cannot encode text that is not valid UTF-8 (byte " + std::to_string(bad) +
                     ")");
  std::vector<std::int64_t> ids;
  std::vector<std::pair<std::int64_t, std::size_t>> merged;
  // A stretch between added tokens: normalised, split, each piece's bytes merged.
  const auto encode_stretch = [&](std::size_t begin, std::size_t end) {
    if (begin == end) return;
    std::string stretch = text.substr(begin, end - begin);
    bool changed = false;
    if (m.normalise != 0 && !ascii(stretch)) {
      utf8proc_uint8_t* normal = nullptr;
      const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(stretch.data()),
                                  static_cast<utf8proc_ssize_t>(stretch.size()), &normal, m.normalise);
      if (n < 0) throw InputError(m.path + ": cannot normalise the text: " + utf8proc_errmsg(n));
      std::string out(reinterpret_cast<const char*>(normal), static_cast<std::size_t>(n));
      std::free(normal);
      changed = out != stretch;
      stretch = std::move(out);
    }
    if (m.prefix_space && stretch[0] != ' ') {  // ByteLevel's add_prefix_space
      stretch.insert(0, 1, ' ');
      changed = true;
    }
    // The pre-tokenizers, each splitting every piece of the one before.
    std::vector<std::pair<std::size_t, std::size_t>> pieces{{0, stretch.size()}};
    for (const PreTokenizer& p : m.pre) {
      if (!p.regex) continue;
      std::vector<std::pair<std::size_t, std::size_t>> next;
      for (const auto& [b, e] : pieces) {
        std::size_t at = b;
        for (const auto& match : p.regex->find_all(stretch, b, e)) {
          if (match.first > at) next.emplace_back(at, match.first);
          if (!p.remove_matches) next.push_back(match);
          at = match.second;
        }
        if (at < e) next.emplace_back(at, e);
      }
      pieces = std::move(next);
    }
    for (const auto& [b, e] : pieces) {
      merged.clear();
      m.merge(stretch, b, e, merged);
      std::size_t at = b;
      for (const auto& [id, length] : merged) {
        ids.push_back(id);
        // Bytes of the stretch are bytes of the text unless normalisation changed it.
        spans.push_back(changed ? std::make_pair(begin, end)
                                : std::make_pair(begin + at, begin + at + length));
        at += length;
      }
    }
  };
  std::size_t stretch_begin = 0;
  for (std::size_t i = 0; i < text.size();) {
    const AddedToken* found = nullptr;
    for (const std::size_t candidate : m.added_from[static_cast<unsigned char>(text[i])]) {
      const AddedToken& t = m.added[candidate];
      if (text.compare(i, t.content.size(), t.content) == 0) {
        found = &t;
        break;
      }
    }
    if (found == nullptr) {
      ++i;
      continue;
    }
    std::size_t begin = i, end = i + found->content.size();
    if (found->lstrip)
      while (begin > stretch_begin && ascii_space(text[begin - 1])) --begin;
    if (found->rstrip)
      while (end < text.size() && ascii_space(text[end])) ++end;
    encode_stretch(stretch_begin, begin);
    ids.push_back(found->id);
    spans.emplace_back(begin, end);
    stretch_begin = i = end;
  }
  encode_stretch(stretch_begin, text.size());
  return ids;
}

std::string ByteLevelBpe::decode(const std::vector<std::int64_t>& ids) const {
  const Model& m = *model_;
  std::string out;
  for (const std::int64_t id : ids) {
    const std::string& token = piece(id);
    if (m.is_special[static_cast<std::size_t>(id)]) continue;
    if (m.is_added[static_cast<std::size_t>(id)]) {
      out += token;  // an added token is its own text
      continue;
    }
    for (std::size_t i = 0; i < token.size();) {
      const std::size_t n = (static_cast<unsigned char>(token[i]) & 0xE0) == 0xC0 ? 2 : 1;
      const auto it = m.byte_of.find(token.substr(i, n));
      if (it != m.byte_of.end()) {
        out += static_cast<char>(it->second);
        i += n;
      } else {
        out += token[i++];
      }
    }
  }
  return out;
}

const std::string& ByteLevelBpe::piece(std::int64_t id) const {
  const Model& m = *model_;
  if (id < 0 || id >= static_cast<std::int64_t>(m.pieces.size()) ||
      m.pieces[static_cast<std::size_t>(id)].empty())
    throw std::out_of_range(m.path + ": token id " + std::to_string(id));
  return m.pieces[static_cast<std::size_t>(id)];
}

std::int64_t ByteLevelBpe::vocab_size() const { return static_cast<std::int64_t>(model_->pieces.size()); }
const std::vector<std::int64_t>& ByteLevelBpe::prefix() const { return model_->prefix; }
const std::vector<std::int64_t>& ByteLevelBpe::suffix() const { return model_->suffix; }

std::int64_t ByteLevelBpe::eos_id() const {
  if (model_->eos < 0) throw InputError(model_->eos_why);
  return model_->eos;
}

}  // namespace acsweep::models
