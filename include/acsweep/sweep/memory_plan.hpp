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
  std::string weights;  // "fp32" or "bf16": the dtype the trained weights compute in
  train::MemoryPlan plan;
};

// How Stage 2 holds its state: the shard level and whether the weights compute in bf16 over
// float32 master shards.
struct Stage2Layout {
  train::ShardLevel shard{};  // none (train/sharded_adamw.hpp)
  bool bf16_weights = false;
};

struct JobMemory {
  std::vector<PhaseMemory> phases;
  std::vector<std::string> unknown;  // what could not be planned, and why (a config not here)
  std::int64_t device_bytes = 0;     // what the plan must fit (0: no limit known)
  Stage2Layout stage2;               // as planned
};

// The device memory a job must fit: [layout] device_memory_gib, else CUDA device 0's, else 0
// (not known).
std::int64_t device_memory(const runtime::JobSpec& job);

// Stage 2's layout: [stage2] shard and param_dtype as set; shard = auto is the lowest level (none,
// optimizer, gradients) whose plan fits `device_bytes` (none where that is 0 or the LLM's config
// is not here; gradients where nothing fits); param_dtype = auto is bf16 on `cuda` at a sharded
// level. The run and the plan call it alike, so a job trains as it was planned.
Stage2Layout stage2_layout(const runtime::JobSpec& job, int group_size, bool cuda, std::int64_t device_bytes);

// `group_size`: ranks per worker group (the Stage-2 shards).
JobMemory plan_memory(const runtime::JobSpec& job, int group_size);

// What each stage trains for a setting, from config.json alone: Stage 1 (the A score) the
// projector, Stage 2 (a finetune) the projector and the LLM. InputError when a config is missing.
struct TrainableParameters {
  std::int64_t stage1 = 0, stage2 = 0;
};
TrainableParameters trainable_parameters(const runtime::JobSpec& job, const runtime::SettingSpec& setting);

// InputError naming the phase, what it needs and what would fit (a shard level, activation
// checkpointing, a smaller micro-batch), when a phase's plan exceeds device_bytes.
void check_memory(const JobMemory& memory, const runtime::JobSpec& job, int group_size);

}  // namespace acsweep::sweep
