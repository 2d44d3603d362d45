// acsweep law TABLE.csv: fit the Law on a table of A, C and benchmark results.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "acsweep/cli/commands.hpp"
#include "acsweep/cli/options.hpp"
#include "acsweep/error.hpp"
#include "acsweep/law/paper_groups.hpp"
#include "acsweep/law/table_fit.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/store/results_file.hpp"

namespace po = boost::program_options;

namespace acsweep::cli {
namespace {

constexpr const char* kUsage =
    "acsweep law TABLE.csv [--benchmarks B1,B2] [--degree 1|2] [--features AC|A|C] [--json] "
    "[--out results.h5]";

std::string format_number(double x) {
  if (std::isnan(x)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.4f", x);
  return text;
}

}  // namespace

int run_law(const std::vector<std::string>& args, const CommandContext& context) {
  po::options_description options("acsweep law options");
  options.add_options()("benchmarks", po::value<std::string>(), "comma-separated benchmark columns")(
      "degree", po::value<int>()->default_value(2), "polynomial degree, 1 or 2")(
      "features", po::value<std::string>()->default_value("AC"), "AC, A or C")(
      "json", po::bool_switch(), "print one JSON document on stdout")(
      "out", po::value<std::string>(), "write every fit (degree 1 and 2; AC, A, C) to this HDF5 file");
  po::variables_map vm;
  if (!parse_command("law", kUsage, options, args, vm)) return 0;

  const law::LawModel model{vm["degree"].as<int>(), law::parse_feature_set(vm["features"].as<std::string>())};
  model.terms();  // validates the degree before any work
  const law::LawTable table = read_table_option(vm);
  if (context.mpi.rank() != 0) return 0;  // the fit is cheap: rank 0 does it all

  const std::vector<law::LawFit> fits = law::fit_table(law::normalise_table(table), model);
  const std::vector<std::string> terms = model.terms();
  std::vector<double> r2;
  for (const auto& fit : fits) r2.push_back(fit.r2);
  const std::vector<law::PaperGroupR2> groups = law::paper_group_r2(table.benchmark_names, r2);

  if (vm["json"].as<bool>()) {
    nlohmann::ordered_json doc;
    doc["degree"] = model.degree;
    doc["features"] = law::to_string(model.features);
    doc["benchmarks"] = nlohmann::ordered_json::object();
    for (std::size_t b = 0; b < fits.size(); ++b) {
      nlohmann::ordered_json coefficients;
      for (std::size_t t = 0; t < terms.size(); ++t) coefficients[terms[t]] = fits[b].coefficients[t];
      doc["benchmarks"][table.benchmark_names[b]] = {{"n", table.size()},
                                                     {"r2", fits[b].r2},
                                                     {"coefficients", coefficients},
                                                     {"fitted", fits[b].fitted}};
    }
    doc["groups"] = nlohmann::ordered_json::object();
    for (const auto& group : groups) doc["groups"][group.name] = {{"r2", group.mean_r2}};
    std::cout << doc.dump(2) << "\n";
  } else {
    std::printf(
        "Law fit of degree %d on %s over %zu settings of %s (A, C, benchmarks min-max "
        "normalised)\n\n",
        model.degree, law::to_string(model.features).c_str(), table.size(), table.source.c_str());
    std::printf("%-14s %4s %8s", "benchmark", "n", "R2");
    for (const auto& t : terms) std::printf(" %9s", ("w_" + t).c_str());
    const bool has_interaction = model.degree == 2 && model.features == law::FeatureSet::AC;
    if (has_interaction) std::printf("  A-C interaction");
    std::printf("\n");
    for (std::size_t b = 0; b < fits.size(); ++b) {
      std::printf("%-14s %4zu %8s", table.benchmark_names[b].c_str(), table.size(),
                  format_number(fits[b].r2).c_str());
      for (double w : fits[b].coefficients) std::printf(" %9.4f", w);
      if (has_interaction) std::printf("  %s", fits[b].coefficients[4] > 0 ? "synergy" : "trade-off");
      std::printf("\n");
    }
    for (const auto& group : groups)
      std::printf("\nmean R2 over the %s benchmarks (%s): %s", group.name.c_str(), group.members.c_str(),
                  format_number(group.mean_r2).c_str());
    std::printf("\n");
  }

  if (vm.count("out")) {
    const std::string out = vm["out"].as<std::string>();
    store::ResultsFile results(out, table, {context.command_line, 0, context.mpi.size()});
    store::write_law_fits(results, table);
    results.commit();
    std::cerr << "acsweep law: wrote every fit (degree 1, 2; AC, A, C) to " << out << "\n";
  }
  return 0;
}

}  // namespace acsweep::cli
