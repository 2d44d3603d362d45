#include "acsweep/law/table.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "acsweep/error.hpp"
#include "acsweep/law/csv.hpp"

namespace acsweep::law {
namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void require_varying(const std::vector<double>& column, const std::string& source, const std::string& name) {
  const auto [lo, hi] = std::minmax_element(column.begin(), column.end());
  if (*lo == *hi)
    throw InputError(source + ": column " + quoted(name) + " holds the same value (" + std::to_string(*lo) +
                     ") in every row: nothing to normalise");
}

}  // namespace

std::size_t LawTable::benchmark_index(const std::string& name) const {
  const auto it = std::find(benchmark_names.begin(), benchmark_names.end(), name);
  if (it == benchmark_names.end())
    throw InputError(source + ": no benchmark " + quoted(name) + " (benchmarks: " + join(benchmark_names) +
                     ")");
  return static_cast<std::size_t>(it - benchmark_names.begin());
}

LawTable parse_law_table(std::istream& in, const std::string& source,
                         const std::vector<std::string>& benchmarks) {
  const std::vector<CsvRecord> records = read_csv(in, source);
  if (records.empty()) throw InputError(source + ": the table is empty (no header line)");
  const std::vector<std::string>& header = records.front().fields;

  std::map<std::string, std::size_t> column_of;
  for (std::size_t j = 0; j < header.size(); ++j) {
    if (header[j].empty())
      throw InputError(source + ": header column " + std::to_string(j + 1) + " has no name");
    if (!column_of.emplace(header[j], j).second)
      throw InputError(source + ": column " + quoted(header[j]) + " appears twice in the header");
  }
  for (const char* required : {"setting", "A", "C"})
    if (!column_of.count(required))
      throw InputError(source + ": missing column " + quoted(required) + " (header: " + join(header) + ")");
  const std::size_t setting_col = column_of["setting"], a_col = column_of["A"], c_col = column_of["C"];

  std::vector<std::size_t> bench_cols;
  if (benchmarks.empty()) {
    for (std::size_t j = std::max(a_col, c_col) + 1; j < header.size(); ++j)
      if (j != setting_col) bench_cols.push_back(j);
    if (bench_cols.empty())
      throw InputError(source +
                       ": no benchmark columns: benchmarks are the columns to the right of "
                       "'A' and 'C'");
  } else {
    for (const auto& name : benchmarks) {
      const auto it = column_of.find(name);
      if (it == column_of.end() || name == "setting" || name == "A" || name == "C")
        throw InputError(source + ": unknown benchmark " + quoted(name) + " (columns: " + join(header) + ")");
      if (std::find(bench_cols.begin(), bench_cols.end(), it->second) != bench_cols.end())
        throw InputError(source + ": benchmark " + quoted(name) + " is asked for twice");
      bench_cols.push_back(it->second);
    }
  }

  LawTable table;
  table.source = source;
  for (std::size_t col : bench_cols) table.benchmark_names.push_back(header[col]);
  table.benchmark_scores.resize(bench_cols.size());
  std::vector<std::size_t> descriptive_cols;
  for (std::size_t j = 0; j < header.size(); ++j)
    if (j != setting_col && j != a_col && j != c_col &&
        std::find(bench_cols.begin(), bench_cols.end(), j) == bench_cols.end()) {
      descriptive_cols.push_back(j);
      table.descriptive_names.push_back(header[j]);
    }
  table.descriptive_values.resize(descriptive_cols.size());

  std::map<std::string, std::size_t> line_of_setting;
  for (std::size_t r = 1; r < records.size(); ++r) {
    const CsvRecord& rec = records[r];
    const std::string row = source + ": line " + std::to_string(rec.line);
    const std::string& name = rec.fields[setting_col];
    if (name.empty()) throw InputError(row + ": column 'setting' is empty");
    const auto [it, fresh] = line_of_setting.emplace(name, rec.line);
    if (!fresh)
      throw InputError(row + ": setting " + quoted(name) + " already appears on line " +
                       std::to_string(it->second));
    const std::string where = row + " (setting " + quoted(name) + "), column ";
    table.settings.push_back(name);
    table.alignment.push_back(parse_number(rec.fields[a_col], where + "'A'"));
    table.correspondence.push_back(parse_number(rec.fields[c_col], where + "'C'"));
    for (std::size_t b = 0; b < bench_cols.size(); ++b)
      table.benchmark_scores[b].push_back(
          parse_number(rec.fields[bench_cols[b]], where + quoted(header[bench_cols[b]])));
    for (std::size_t d = 0; d < descriptive_cols.size(); ++d)
      table.descriptive_values[d].push_back(rec.fields[descriptive_cols[d]]);
  }

  if (table.size() < 2)
    throw InputError(source + ": " + std::to_string(table.size()) + " setting(s); the Law needs at least 2");
  require_varying(table.alignment, source, "A");
  require_varying(table.correspondence, source, "C");
  for (std::size_t b = 0; b < bench_cols.size(); ++b)
    require_varying(table.benchmark_scores[b], source, table.benchmark_names[b]);
  return table;
}

LawTable read_law_table(const std::string& path, const std::vector<std::string>& benchmarks) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open the table for reading");
  return parse_law_table(in, path, benchmarks);
}

}  // namespace acsweep::law
