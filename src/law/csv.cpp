#include "acsweep/law/csv.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "acsweep/error.hpp"

namespace acsweep::law {

std::vector<CsvRecord> read_csv(std::istream& in, const std::string& source) {
  // Read a block at a time up to kMaxCsvBytes and one more, to tell a file that is too large (or
  // /dev/zero) at once; a small table costs a small buffer (a whole-limit buffer cost 50 ms each).
  std::string text;
  char block[1 << 16];
  while (in.read(block, sizeof block) || in.gcount() > 0) {
    text.append(block, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxCsvBytes)
      throw InputError(source + ": more than " + std::to_string(kMaxCsvBytes >> 20) +
                       " MiB; a table of settings is far smaller (is it the right file?)");
  }
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);

  std::vector<CsvRecord> records;
  CsvRecord record;
  std::string field;
  std::size_t line = 1;
  std::size_t i = 0;
  bool record_has_content = false;
  auto end_field = [&] {
    record.fields.push_back(std::move(field));
    field.clear();
  };
  auto end_record = [&] {
    end_field();
    if (record_has_content) records.push_back(std::move(record));
    record = CsvRecord{};
    record_has_content = false;
  };

  std::size_t line_start = 0;
  while (i < text.size()) {
    if (!record_has_content && record.fields.empty() && field.empty()) record.line = line;
    if (i - line_start > kMaxCsvLineBytes)
      throw InputError(source + ":" + std::to_string(line) + ": a line longer than " +
                       std::to_string(kMaxCsvLineBytes >> 10) + " KiB");
    const char ch = text[i];
    if (ch == '"' && field.empty()) {
      const std::size_t opened_at = line;
      record_has_content = true;
      ++i;
      while (true) {
        if (i >= text.size())
          throw InputError(source + ":" + std::to_string(opened_at) + ": unterminated quoted field");
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        if (text[i] == '\n') {
          ++line;
          line_start = i + 1;
        } else if (i - line_start > kMaxCsvLineBytes)
          throw InputError(source + ":" + std::to_string(line) + ": a line longer than " +
                           std::to_string(kMaxCsvLineBytes >> 10) + " KiB");
        field += text[i++];
      }
      if (i < text.size() && text[i] != ',' && text[i] != '\n' && text[i] != '\r')
        throw InputError(source + ":" + std::to_string(line) +
                         ": unexpected character after a closing quote");
      continue;
    }
    if (ch == ',') {
      record_has_content = true;
      end_field();
      ++i;
    } else if (ch == '\r' || ch == '\n') {
      end_record();
      i += (ch == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
      ++line;
      line_start = i;
    } else {
      record_has_content = true;
      field += ch;
      ++i;
    }
  }
  if (record_has_content || !field.empty()) end_record();
  for (const auto& r : records)
    if (r.fields.size() != records.front().fields.size())
      throw InputError(source + ": line " + std::to_string(r.line) + ": " + std::to_string(r.fields.size()) +
                       " fields, the header has " + std::to_string(records.front().fields.size()));
  return records;
}

double parse_number(const std::string& cell, const std::string& where) {
  const char* begin = cell.c_str();
  while (*begin == ' ' || *begin == '\t') ++begin;
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(begin, &end);
  while (end && (*end == ' ' || *end == '\t')) ++end;
  if (end == begin || *end != '\0' || errno == ERANGE)
    throw InputError(where + ": '" + cell + "' is not a number");
  if (!std::isfinite(value)) throw InputError(where + ": '" + cell + "' is not a finite number");
  return value;
}

}  // namespace acsweep::law
