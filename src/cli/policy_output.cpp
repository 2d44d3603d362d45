#include "acsweep/cli/policy_output.hpp"

namespace acsweep::cli {
namespace {

nlohmann::ordered_json to_json(const law::RecallPoint& point) {
  return {{"budget", point.budget},
          {"sampler", law::to_string(point.sampler)},
          {"recall_at_1", point.recall_at_1},
          {"recall_at_3", point.recall_at_3}};
}

}  // namespace

nlohmann::ordered_json simulation_json(const law::LawTable& table, const law::SimulationResult& result) {
  const law::SimulationSpec& spec = result.spec;
  nlohmann::ordered_json doc;
  doc["runs"] = spec.runs;
  doc["counting"] = law::to_string(spec.counting);
  doc["fit"] = law::to_string(spec.fit);
  doc["seed"] = spec.seed;
  doc["benchmarks"] = nlohmann::ordered_json::object();
  for (const auto& bench : result.benchmarks) {
    nlohmann::ordered_json curve = nlohmann::ordered_json::array();
    for (const auto& point : bench.curve) curve.push_back(to_json(point));
    doc["benchmarks"][bench.benchmark] = {{"best", table.settings[bench.best]}, {"curve", curve}};
  }
  doc["average"] = nlohmann::ordered_json::array();
  for (const auto& point : result.average) doc["average"].push_back(to_json(point));
  return doc;
}

}  // namespace acsweep::cli
