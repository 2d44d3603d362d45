#include "acsweep/store/results_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>

#include "acsweep/error.hpp"
#include "acsweep/law/table_fit.hpp"
#include "acsweep/store/timestamp.hpp"

namespace acsweep::store {
namespace fs = std::filesystem;
namespace {

void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw StoreError(path + ": cannot open to flush it to disk");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw StoreError(path + ": fsync failed");
}

void write_table(H5Location& root, const law::LawTable& table, const law::NormalisedTable& normalised) {
  H5Location settings = root.create_group("settings");
  settings.write("name", table.settings);
  for (std::size_t d = 0; d < table.descriptive_names.size(); ++d)
    settings.write(table.descriptive_names[d], table.descriptive_values[d]);
  H5Location scores = root.create_group("scores");
  scores.write("A", table.alignment);
  scores.write("C", table.correspondence);
  scores.write("a_normalised", normalised.a);
  scores.write("c_normalised", normalised.c);
}

}  // namespace

ResultsFile::ResultsFile(const std::string& path, const law::LawTable& table, const RunRecord& run)
    : path_(path), temporary_(path + ".tmp." + std::to_string(::getpid())), run_(run) {
  const bool exists = fs::exists(path_);
  if (exists) {
    std::error_code ec;
    fs::copy_file(path_, temporary_, fs::copy_options::overwrite_existing, ec);
    if (ec) throw StoreError(path_ + ": cannot copy to " + temporary_ + ": " + ec.message());
    file_ = std::make_unique<H5File>(H5File::open_read_write(temporary_));
    if (!file_->has("settings") || file_->open_group("settings").read_strings("name") != table.settings) {
      file_.reset();
      fs::remove(temporary_, ec);
      throw InputError(path_ + " holds results of another table (its /settings/name differs from " +
                       table.source + "); write to another --out file");
    }
  } else {
    file_ = std::make_unique<H5File>(H5File::create(temporary_));
    write_table(*file_, table, law::normalise_table(table));
    file_->set_attribute("created", utc_timestamp());
    file_->set_attribute("table", table.source);
  }
  file_->set_attribute("version", std::string(kResultsVersion));
  file_->set_attribute("command_line", run_.command_line);
  file_->set_attribute("seed", static_cast<std::int64_t>(run_.seed));
  file_->set_attribute("world_size", static_cast<std::int64_t>(run_.world_size));
  file_->set_attribute("updated", utc_timestamp());
}

ResultsFile::~ResultsFile() {
  if (!file_) return;
  file_.reset();  // closes without checking: the temporary is discarded anyway
  std::error_code ec;
  fs::remove(temporary_, ec);
}

H5Location ResultsFile::replace_group(const std::string& name) {
  if (file_->has(name)) file_->remove(name);
  H5Location group = file_->create_group(name);
  group.set_attribute("command_line", run_.command_line);
  group.set_attribute("seed", static_cast<std::int64_t>(run_.seed));
  group.set_attribute("written", utc_timestamp());
  return group;
}

void ResultsFile::commit() {
  file_->close();
  file_.reset();
  fsync_path(temporary_);
  std::error_code ec;
  fs::rename(temporary_, path_, ec);
  if (ec) throw StoreError("cannot move " + temporary_ + " to " + path_ + ": " + ec.message());
}

void write_law_fits(ResultsFile& results, const law::LawTable& table) {
  const law::NormalisedTable normalised = law::normalise_table(table);
  const auto n_bench = static_cast<hsize_t>(table.benchmark_names.size());
  const auto k = static_cast<hsize_t>(table.size());

  H5Location group = results.replace_group("law");
  group.write("benchmarks", table.benchmark_names);
  std::vector<double> y_flat;
  for (const auto& y : normalised.y) y_flat.insert(y_flat.end(), y.begin(), y.end());
  group.write("y_normalised", y_flat, {n_bench, k});

  for (int degree : {1, 2})
    for (law::FeatureSet features : {law::FeatureSet::AC, law::FeatureSet::A, law::FeatureSet::C}) {
      const law::LawModel model{degree, features};
      H5Location fits = group.create_group(law::model_name(model));
      fits.set_attribute("degree", static_cast<std::int64_t>(degree));
      fits.set_attribute("features", law::to_string(features));
      fits.write("terms", model.terms());
      std::vector<double> coefficients, r2, fitted;
      for (const law::LawFit& fit : law::fit_table(normalised, model)) {
        coefficients.insert(coefficients.end(), fit.coefficients.begin(), fit.coefficients.end());
        fitted.insert(fitted.end(), fit.fitted.begin(), fit.fitted.end());
        r2.push_back(fit.r2);
      }
      fits.write("coefficients", coefficients, {n_bench, static_cast<hsize_t>(model.term_count())});
      fits.write("r2", r2);
      fits.write("fitted", fitted, {n_bench, k});
    }
}

void write_policy_simulation(H5Location& group, const law::LawTable& table,
                             const law::SimulationResult& result, const std::string& name) {
  const law::SimulationSpec& spec = result.spec;
  H5Location sim = group.create_group(name);
  sim.set_attribute("runs", static_cast<std::int64_t>(spec.runs));
  sim.set_attribute("model", law::model_name(spec.model));
  sim.set_attribute("counting", law::to_string(spec.counting));
  sim.set_attribute("fit", law::to_string(spec.fit));
  sim.write("budgets", std::vector<std::int64_t>(spec.budgets.begin(), spec.budgets.end()));
  std::vector<std::string> samplers;
  for (law::Sampler s : spec.samplers) samplers.push_back(law::to_string(s));
  sim.write("samplers", samplers);
  sim.write("benchmarks", table.benchmark_names);

  std::vector<std::int64_t> best;
  std::vector<std::string> best_name;
  for (const auto& bench : result.benchmarks) {
    best.push_back(static_cast<std::int64_t>(bench.best));
    best_name.push_back(table.settings[bench.best]);
  }
  sim.write("best_setting", best);
  sim.write("best_setting_name", best_name);

  // Curves are stored sampler-major, then budget, as summarise() lays them out.
  const auto S = static_cast<hsize_t>(spec.samplers.size()), M = static_cast<hsize_t>(spec.budgets.size()),
             B = static_cast<hsize_t>(result.benchmarks.size());
  std::vector<double> r1(S * M * B), r3(S * M * B), avg1, avg3;
  for (hsize_t b = 0; b < B; ++b)
    for (hsize_t i = 0; i < S * M; ++i) {
      r1[i * B + b] = result.benchmarks[b].curve[i].recall_at_1;
      r3[i * B + b] = result.benchmarks[b].curve[i].recall_at_3;
    }
  for (const auto& point : result.average) {
    avg1.push_back(point.recall_at_1);
    avg3.push_back(point.recall_at_3);
  }
  sim.write("recall_at_1", r1, {S, M, B});
  sim.write("recall_at_3", r3, {S, M, B});
  sim.write("average_recall_at_1", avg1, {S, M});
  sim.write("average_recall_at_3", avg3, {S, M});
}

}  // namespace acsweep::store
