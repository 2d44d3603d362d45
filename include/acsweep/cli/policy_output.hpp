#pragma once
// How a policy simulation is shown: the JSON document of `acsweep policy --json` and the text
// tables of `acsweep policy` and `acsweep run`.
#include <nlohmann/json.hpp>

#include "acsweep/law/policy_simulation.hpp"
#include "acsweep/law/table.hpp"

namespace acsweep::cli {

nlohmann::ordered_json simulation_json(const law::LawTable& table, const law::SimulationResult& result);
void print_simulation(const law::LawTable& table, const law::SimulationResult& result);

}  // namespace acsweep::cli
