#pragma once
// The memory plan of a scoring sweep: per phase and role, the bytes one rank holds at its peak
// (train/memory_plan.hpp), from the LLM's config.json and each encoder's config.json and
// preprocessor_config.json alone, so a folder holding only those plans the same as a full one and
// a job can be planned on a machine without its weights or data. Each phase is planned at its
// largest setting. A job whose plan exceeds the device memory is refused before any work.
#include <cstdint>
#include <string>
#include <vector>

#include "acsweep/runtime/job_file.hpp"
#include "acsweep/train/memory_plan.hpp"

namespace acsweep::sweep {

struct PhaseMemory {
  std::string phase;    // "scoring" (Stage 1 and the A score) or "finetune" (Stage 2)
  std::string role;     // "scorer" or "worker"
  std::string setting;  // the largest
  std::string shard;    // the shard level planned ("none" in scoring: the projector is not sharded)
  train::MemoryPlan plan;
};

struct JobMemory {
  std::vector<PhaseMemory> phases;
  std::vector<std::string> unknown;  // what could not be planned, and why (a config not here)
  std::int64_t device_bytes = 0;     // what the plan must fit (0: no limit known)
};

// `group_size`: ranks per worker group (the Stage-2 shards).
JobMemory plan_memory(const runtime::JobSpec& job, int group_size);

// InputError naming the phase, what it needs and what would fit (a shard level, activation
// checkpointing, a smaller micro-batch), when a phase's plan exceeds device_bytes.
void check_memory(const JobMemory& memory, const runtime::JobSpec& job, int group_size);

}  // namespace acsweep::sweep
