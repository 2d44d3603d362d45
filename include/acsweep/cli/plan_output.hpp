#pragma once
// What `acsweep run JOB --dry-run` prints on stdout (plan_output.cpp).
#include "acsweep/runtime/job_file.hpp"
#include "acsweep/runtime/world.hpp"
#include "acsweep/sweep/job_plan.hpp"
#include "acsweep/sweep/memory_plan.hpp"

namespace acsweep::cli {

// The job, its seed and results folder, and how the world is laid out for it.
void print_job(const runtime::JobSpec& job, const runtime::World& world);

// A scoring job whose models and data are not on this machine: what the job file alone says, and
// what is missing here.
void print_plan_without_inputs(const runtime::JobSpec& job);

// The tasks of the plan, with their hashes and estimated costs.
void print_plan(const sweep::JobPlan& plan, const runtime::JobSpec& job);

// The memory plan: per phase and role the bytes per rank, part by part, and what fits. As JSON:
// {"memory": {PHASE: {"role", "setting", "shard", "per_rank_bytes", "parts": {NAME: bytes}}},
//  "device_bytes": n, "unknown": [...]}.
void print_memory_plan(const sweep::JobMemory& memory);
void print_memory_json(const sweep::JobMemory& memory);

}  // namespace acsweep::cli
