#pragma once
// A policy simulation as the JSON document of `acsweep policy --json` (the text tables are
// law/simulation_report.hpp).
#include <nlohmann/json.hpp>

#include "acsweep/law/policy_simulation.hpp"
#include "acsweep/law/table.hpp"

namespace acsweep::cli {

nlohmann::ordered_json simulation_json(const law::LawTable& table, const law::SimulationResult& result);

}  // namespace acsweep::cli
