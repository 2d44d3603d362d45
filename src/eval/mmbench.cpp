// MMBench read from its released TSV, images embedded as base64 (benchmarks.hpp, read_mmbench),
// and the images of items decoded from their files or from that text (item_image).
#include <algorithm>
#include <array>
#include <fstream>
#include <map>
#include <stdexcept>

#include "acsweep/bounded_read.hpp"
#include "acsweep/error.hpp"
#include "acsweep/eval/benchmarks.hpp"
#include "dataset_files.hpp"

namespace acsweep::eval {
namespace {

// A TSV field: its text (in the column `kept_short`, only its first kKeptShort characters: the
// images, which are read again from the file when asked), where it starts in the file, its length.
struct Field {
  std::string text;
  std::size_t offset = 0, length = 0;
};
constexpr std::size_t kKeptShort = 32;

// The rows of a tab-separated file as pandas writes it: fields with a tab, a newline or a quote
// are quoted, a quote inside doubled. Each row's fields with their offsets.
std::vector<std::vector<Field>> tsv_rows(const std::string& text, std::size_t kept_short) {
  std::vector<std::vector<Field>> rows(1);
  Field field;
  bool quoted = false, started = false;
  const auto add = [&](char c) {
    ++field.length;
    if (rows.back().size() != kept_short || field.text.size() < kKeptShort) field.text += c;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!started) {
      field.offset = i;
      started = true;
      if (c == '"') {
        quoted = true;
        field.offset = i + 1;
        continue;
      }
    }
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        add('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        add(c);
      }
      continue;
    }
    if (c == '\t' || c == '\n') {
      if (field.length > 0 && text[i - 1] == '\r') {
        --field.length;
        if (!field.text.empty() && field.text.back() == '\r') field.text.pop_back();
      }
      rows.back().push_back(std::move(field));
      field = Field{};
      started = false;
      if (c == '\n') rows.emplace_back();
      continue;
    }
    add(c);
  }
  if (started) rows.back().push_back(std::move(field));
  while (!rows.empty() && (rows.back().empty() || (rows.back().size() == 1 && rows.back()[0].text.empty())))
    rows.pop_back();
  return rows;
}

bool all_digits(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

// An image field that names another row's index instead of holding an image (circular copies).
bool names_a_row(const Field& image) { return image.length <= kKeptShort && all_digits(image.text); }

std::vector<unsigned char> from_base64(const std::string& text, const std::string& where) {
  static const std::array<int, 256> kValue = [] {
    std::array<int, 256> v{};
    v.fill(-1);
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (std::size_t i = 0; i < alphabet.size(); ++i)
      v[static_cast<unsigned char>(alphabet[i])] = static_cast<int>(i);
    return v;
  }();
  std::vector<unsigned char> out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    if (c == '=' || c == '\n' || c == '\r' || c == ' ') continue;
    const int value = kValue[static_cast<unsigned char>(c)];
    if (value < 0) throw InputError(where + ": the image is not base64 (a '" + std::string(1, c) + "')");
    buffer = buffer << 6 | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<unsigned char>(buffer >> bits & 0xFF));
    }
  }
  return out;
}

}  // namespace

data::Image item_image(const BenchmarkItem& item) {
  if (item.image_length == 0) return data::decode_image(item.image);
  const std::string where = item.image + ": row of index " + item.id;
  std::ifstream in(item.image, std::ios::binary);
  std::string text(item.image_length, '\0');
  in.seekg(static_cast<std::streamoff>(item.image_offset));
  if (!in.read(text.data(), static_cast<std::streamsize>(text.size())))
    throw InputError(where + ": cannot read its image");
  return data::decode_image(from_base64(text, where), where);
}

std::vector<data::Image> item_images(const BenchmarkItem& item) {
  if (item.images.empty()) {
    if (item.image.empty()) return {};
    return {item_image(item)};
  }
  std::vector<data::Image> out;
  for (const auto& file : item.images) out.push_back(data::decode_image(file));
  return out;
}

Benchmark read_mmbench(const std::string& path, const std::string& name, bool with_images) {
  const std::string text = read_bounded(path, kMaxBenchmarkBytes, "the benchmark");
  std::map<std::string, std::size_t> column;  // from the header line
  std::vector<std::string> headings;
  {
    std::size_t c = 0, begin = 0;
    const std::size_t end = std::min(text.find('\n'), text.size());
    for (std::size_t i = 0; i <= end; ++i)
      if (i == end || text[i] == '\t') {
        std::string heading = text.substr(begin, i - begin);
        if (!heading.empty() && heading.back() == '\r') heading.pop_back();
        column[heading] = c++;
        headings.push_back(heading);
        begin = i + 1;
      }
  }
  const auto rows = tsv_rows(text, column.count("image") ? column["image"] : static_cast<std::size_t>(-1));
  if (rows.empty()) throw InputError(path + ": empty");
  // The columns were found before the quotes were read (to know which holds the images); a header
  // that reads otherwise with them would send every column index to another field.
  bool same_header = rows[0].size() == headings.size();
  for (std::size_t c = 0; same_header && c < headings.size(); ++c)
    same_header = rows[0][c].text == headings[c];
  if (!same_header)
    throw InputError(path + ": the header line's quotes change its columns; not MMBench's TSV");
  for (const char* needed : {"index", "question", "A", "B", "answer", "image"})
    if (!column.count(needed)) throw InputError(path + ": no '" + needed + "' column: not MMBench's TSV");
  // The image of each original row, by index (copies name it instead of repeating it).
  std::map<std::string, std::pair<std::size_t, std::size_t>> images;
  for (std::size_t r = 1; r < rows.size(); ++r)
    if (rows[r].size() == rows[0].size() && !names_a_row(rows[r][column["image"]]))
      images[rows[r][column["index"]].text] = {rows[r][column["image"]].offset,
                                               rows[r][column["image"]].length};
  Benchmark b{name, BenchmarkKind::mmbench, VqaDataset::none, {}, {}};
  for (std::size_t r = 1; r < rows.size(); ++r) {
    try {
      const auto& row = rows[r];
      if (row.size() != rows[0].size())
        throw std::invalid_argument(std::to_string(row.size()) + " fields, the header has " +
                                    std::to_string(rows[0].size()));
      const auto cell = [&](const char* key) {
        const auto found = column.find(key);
        if (found == column.end()) return std::string();
        const std::string& value = row[found->second].text;
        return value == "nan" ? std::string() : value;
      };
      BenchmarkItem item;
      item.id = cell("index");
      if (!all_digits(item.id)) throw std::invalid_argument("index '" + item.id + "' is not a number");
      item.group = std::to_string(std::stoull(item.id) % 1000000);
      if (cell("question").empty()) throw std::invalid_argument("no question");
      item.question = cell("hint").empty() ? cell("question") : cell("hint") + " " + cell("question");
      item.category = cell("category").empty() ? "all" : cell("category");
      for (const char* letter : {"A", "B", "C", "D", "E"}) {
        const std::string option = cell(letter);
        if (option.empty()) break;
        item.options.push_back(option);
      }
      const std::string answer = cell("answer");
      if (item.options.size() < 2) throw std::invalid_argument("fewer than 2 options");
      if (answer.size() != 1 || answer[0] < 'A' ||
          static_cast<std::size_t>(answer[0] - 'A') >= item.options.size())
        throw std::invalid_argument("answer '" + answer + "' is not one of the option letters");
      item.answer = static_cast<std::size_t>(answer[0] - 'A');
      const Field& image = row[column["image"]];
      const bool reference = names_a_row(image);
      const auto found = images.find(reference ? image.text : item.id);
      if (found == images.end())
        throw std::invalid_argument(
            reference ? "its image is that of index " + image.text + ", which has none" : "no image");
      item.image = path;
      item.image_offset = found->second.first;
      item.image_length = found->second.second;
      b.items.push_back(std::move(item));
    } catch (const std::exception& e) {
      b.skipped.push_back(path + ": row " + std::to_string(r + 1) + ": " + e.what());
    }
  }
  (void)with_images;  // the images are in the file itself
  return detail::finished(std::move(b), path);
}

}  // namespace acsweep::eval
