#include "acsweep/sweep/known_results.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>

#include "acsweep/error.hpp"
#include "acsweep/eval/benchmarks.hpp"
#include "acsweep/law/csv.hpp"

namespace acsweep::sweep {
namespace {

constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

std::size_t index_of(const std::vector<std::string>& names, const std::string& name) {
  return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

// The cells of every source, before the all-or-none rule: [setting][benchmark], NaN unknown.
struct Cells {
  std::vector<std::vector<double>> value;
  std::vector<std::vector<std::string>> from;  // [setting][benchmark]: the source of the value

  void put(std::size_t setting, std::size_t benchmark, double v, const std::string& source,
           const std::vector<std::string>& settings, const std::vector<std::string>& benchmarks) {
    double& cell = value[setting][benchmark];
    if (!std::isnan(cell) && cell != v)
      throw InputError(source + ": setting '" + settings[setting] + "', " + benchmarks[benchmark] + " = " +
                       std::to_string(v) + ", but " + from[setting][benchmark] + " gives " +
                       std::to_string(cell));
    cell = v;
    from[setting][benchmark] = source;
  }
};

void read_table(const std::string& path, const std::vector<std::string>& settings,
                const std::vector<std::string>& benchmarks, Cells& cells) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the table of known results");
  const auto records = law::read_csv(in, path);
  if (records.empty()) throw InputError(path + ": empty, expected a header with a 'setting' column");
  const auto& header = records.front().fields;
  const std::size_t setting_column = index_of(header, "setting");
  if (setting_column == header.size()) throw InputError(path + ": no 'setting' column");
  std::vector<std::pair<std::size_t, std::size_t>> columns;  // (column, benchmark)
  for (std::size_t c = 0; c < header.size(); ++c)
    if (const std::size_t b = index_of(benchmarks, header[c]); b < benchmarks.size())
      columns.emplace_back(c, b);
  if (columns.empty()) throw InputError(path + ": no column is named after one of the job's [benchmarks]");
  std::vector<bool> seen(settings.size(), false);
  for (std::size_t r = 1; r < records.size(); ++r) {
    const auto& record = records[r];
    const std::string at = path + ": line " + std::to_string(record.line);
    const std::string& name = record.fields[setting_column];
    const std::size_t s = index_of(settings, name);
    if (s == settings.size()) throw InputError(at + ": '" + name + "' is not one of the job's settings");
    if (seen[s]) throw InputError(at + ": setting '" + name + "' appears twice");
    seen[s] = true;
    for (const auto& [c, b] : columns) {
      if (record.fields[c].find_first_not_of(" \t") == std::string::npos) continue;  // not known
      cells.put(s, b, law::parse_number(record.fields[c], at + ": column '" + header[c] + "'"), path,
                settings, benchmarks);
    }
  }
}

}  // namespace

std::size_t KnownResults::count() const {
  return static_cast<std::size_t>(
      std::count_if(values.begin(), values.end(), [](const auto& row) { return !row.empty(); }));
}

KnownResults read_known_results(const runtime::KnownSection& known, const std::vector<std::string>& settings,
                                const std::vector<std::string>& benchmarks) {
  Cells cells;
  cells.value.assign(settings.size(), std::vector<double>(benchmarks.size(), kUnknown));
  cells.from.assign(settings.size(), std::vector<std::string>(benchmarks.size()));
  if (!known.table.empty()) read_table(known.table, settings, benchmarks, cells);
  for (const auto& [setting, path] : known.lmms_eval) {
    const auto results = eval::read_lmms_eval(path);
    for (const auto& metric : known.metrics) {
      const auto found = results.find(metric.key);
      if (found == results.end())
        throw InputError(path + ": no '" + metric.key + "' among the lmms-eval results (benchmark " +
                         metric.benchmark + ", " + known.job_path + ": [known] lmms_eval_metrics)");
      cells.put(index_of(settings, setting), index_of(benchmarks, metric.benchmark),
                found->second * metric.scale, path, settings, benchmarks);
    }
  }

  KnownResults out;
  out.values.resize(settings.size());
  out.source.resize(settings.size());
  for (std::size_t s = 0; s < settings.size(); ++s) {
    const auto& row = cells.value[s];
    const auto given = static_cast<std::size_t>(
        std::count_if(row.begin(), row.end(), [](double v) { return !std::isnan(v); }));
    if (given == 0) continue;
    if (given < benchmarks.size()) {
      const auto missing = static_cast<std::size_t>(
          std::find_if(row.begin(), row.end(), [](double v) { return std::isnan(v); }) - row.begin());
      throw InputError(known.job_path + ": [known] gives setting '" + settings[s] + "' " +
                       std::to_string(given) + " of " + std::to_string(benchmarks.size()) +
                       " benchmarks, not " + benchmarks[missing] +
                       ": a known setting needs every benchmark (or leave it out to finetune it)");
    }
    out.values[s] = row;
    for (const auto& source : cells.from[s])
      if (out.source[s].find(source) == std::string::npos)
        out.source[s] += (out.source[s].empty() ? "" : "; ") + source;
  }
  return out;
}

}  // namespace acsweep::sweep
