#pragma once
// A policy simulation as text tables on stdout: the recall curves of every benchmark and their
// average (`acsweep policy`, and the policy simulation job's summary).
#include "acsweep/law/policy_simulation.hpp"
#include "acsweep/law/table.hpp"

namespace acsweep::law {

void print_simulation(const LawTable& table, const SimulationResult& result);

}  // namespace acsweep::law
