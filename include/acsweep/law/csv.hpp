#pragma once
// A small RFC 4180 reader: quoted fields (with "" escapes and embedded commas and newlines),
// CRLF or LF line ends, a UTF-8 byte-order mark. Tables of results are small; this favours
// exact error locations over speed.
#include <cstddef>
#include <istream>
#include <string>
#include <vector>

namespace acsweep::law {

struct CsvRecord {
  std::size_t line = 0;  // 1-based line where the record starts, for error messages
  std::vector<std::string> fields;
};

// Bounds on what read_csv takes in: a table of settings is kilobytes, so these only ever stop a
// wrong file (a device, a dump) before it fills the memory.
constexpr std::size_t kMaxCsvBytes = std::size_t{64} << 20;
constexpr std::size_t kMaxCsvLineBytes = std::size_t{1} << 20;

// Reads every record; blank lines are skipped. InputError beyond the bounds above. Throws InputError naming
// `source` and the line on an unterminated quote, stray characters after a closing quote, or a record whose
// number of fields is not the first record's (the header's).
std::vector<CsvRecord> read_csv(std::istream& in, const std::string& source);

// A cell as a finite number (blanks around it allowed); InputError "<where>: 'cell' is not a
// (finite) number" otherwise.
double parse_number(const std::string& cell, const std::string& where);

}  // namespace acsweep::law
