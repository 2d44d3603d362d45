#include "acsweep/sweep/memory_plan.hpp"

#include <torch/cuda.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "acsweep/error.hpp"
#include "acsweep/models/hf_config.hpp"
#include "acsweep/models/torch_runtime.hpp"
#include "acsweep/models/vision_encoder.hpp"
#include "acsweep/train/sharded_adamw.hpp"

namespace acsweep::sweep {
namespace {
namespace fs = std::filesystem;

// What a phase's plan varies: the knobs the refusal message suggests.
struct Knobs {
  std::int64_t micro_batch = 1;
  bool activation_checkpointing = false;
  train::ShardLevel shard = train::ShardLevel::none;
};

struct Representation {
  std::int64_t channels = 0, visual_tokens = 0, encoder_bytes = 0;
};

Representation representation_of(const runtime::SettingSpec& setting, const runtime::SearchSection& search) {
  Representation r;
  models::EncoderOptions options;
  options.layer = search.layer;
  options.resolution = setting.resolution;
  options.pad_to_square = search.pad_to_square;
  std::int64_t grid = 0;
  bool known = true;
  for (const auto& folder : setting.folders) {
    const auto shape = models::encoder_shape(folder, options);
    r.channels += shape.channels;
    r.encoder_bytes += shape.weight_bytes;
    known = known && shape.grid_width > 0;
    grid = std::max(grid, shape.grid_width * shape.grid_height);  // members meet at the finest grid
  }
  r.visual_tokens = known ? grid : 0;
  return r;
}

std::string gib(std::int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return text;
}

// The plan of one phase for one setting at the given knobs.
train::MemoryPlan plan_setting(const models::LlamaConfig& llm, const Representation& r,
                               std::int64_t max_length, bool stage2, bool bf16, std::int64_t group,
                               const Knobs& k) {
  train::TrainingShape shape;
  shape.micro_batch = k.micro_batch;
  shape.sequence = std::min(max_length, llm.max_position_embeddings);
  shape.group = group;
  shape.vision_channels = r.channels;
  shape.visual_tokens = r.visual_tokens;
  shape.encoder_bytes = r.encoder_bytes;
  shape.train_llm = stage2;
  shape.bf16 = bf16;
  shape.activation_checkpointing = k.activation_checkpointing;
  return train::plan_training(llm, shape, stage2 ? k.shard : train::ShardLevel::none);
}

struct PhaseInputs {
  std::string phase, role;
  bool stage2 = false;
  std::int64_t max_length = 0;
  Knobs knobs;
  std::vector<const runtime::SettingSpec*> settings;
};

std::vector<PhaseInputs> phases_of(const runtime::ScoringSection& s) {
  std::vector<PhaseInputs> out;
  PhaseInputs scoring{"scoring",
                      "scorer",
                      false,
                      s.stage1.max_length,
                      {s.stage1.micro_batch, s.stage1.activation_checkpointing, train::ShardLevel::none},
                      {}};
  for (const auto& setting : s.search.settings) scoring.settings.push_back(&setting);
  out.push_back(scoring);
  if (s.finetune) {
    const auto& t = s.finetune->stage2;
    PhaseInputs finetune{"finetune",
                         "worker",
                         true,
                         t.max_length,
                         {t.micro_batch, t.activation_checkpointing, train::shard_level(t.shard)},
                         {}};
    const std::set<std::string> listed(s.finetune->settings.begin(), s.finetune->settings.end());
    for (const auto& setting : s.search.settings)
      if (s.finetune->policy || listed.count("all") || listed.count(setting.name))
        finetune.settings.push_back(&setting);
    if (!finetune.settings.empty()) out.push_back(finetune);
  }
  return out;
}

bool plans_bf16(const runtime::JobSpec& job) {
  const auto& autocast = job.scoring->llm.autocast;
  const bool cuda_target = torch::cuda::is_available() || job.device_memory_gib > 0;
  return autocast == "bf16" || (autocast == "auto" && cuda_target);
}

// Each phase's largest setting at the given knobs (nullopt entries where a config is missing).
struct Largest {
  const runtime::SettingSpec* setting = nullptr;
  train::MemoryPlan plan;
};

Largest largest(const models::LlamaConfig& llm, const PhaseInputs& phase, bool bf16, std::int64_t group,
                const Knobs& knobs, const runtime::SearchSection& search, std::vector<std::string>* unknown) {
  Largest best;
  for (const auto* setting : phase.settings) {
    Representation r;
    try {
      r = representation_of(*setting, search);
    } catch (const InputError& e) {
      if (unknown) unknown->push_back(setting->name + ": " + e.what());
      continue;
    }
    auto plan = plan_setting(llm, r, phase.max_length, phase.stage2, bf16, group, knobs);
    if (!best.setting || plan.total() > best.plan.total()) best = {setting, std::move(plan)};
  }
  return best;
}

}  // namespace

JobMemory plan_memory(const runtime::JobSpec& job, int group_size) {
  JobMemory memory;
  if (!job.scoring) return memory;
  const auto& s = *job.scoring;
  if (job.device_memory_gib > 0)
    memory.device_bytes = static_cast<std::int64_t>(job.device_memory_gib * 1024.0 * 1024.0 * 1024.0);
  else if (torch::cuda::is_available())
    memory.device_bytes = models::device_memory_bytes(0);
  const auto config = (fs::path(s.llm.folder) / "config.json").string();
  if (!fs::is_regular_file(config)) {
    memory.unknown.push_back(config + ": not found (the LLM's sizes come from it)");
    return memory;
  }
  const auto llm = models::read_llama_config(config);
  const bool bf16 = plans_bf16(job);
  for (const auto& phase : phases_of(s)) {
    const std::int64_t group = phase.stage2 ? group_size : 1;
    auto best = largest(llm, phase, bf16, group, phase.knobs, s.search, &memory.unknown);
    if (!best.setting) continue;
    memory.phases.push_back({phase.phase, phase.role, best.setting->name, train::to_string(phase.knobs.shard),
                             std::move(best.plan)});
  }
  return memory;
}

void check_memory(const JobMemory& memory, const runtime::JobSpec& job, int group_size) {
  if (memory.device_bytes <= 0 || !job.scoring) return;
  const auto& s = *job.scoring;
  const bool bf16 = plans_bf16(job);
  for (const auto& phase : phases_of(s)) {
    const auto planned = std::find_if(memory.phases.begin(), memory.phases.end(),
                                      [&](const PhaseMemory& p) { return p.phase == phase.phase; });
    if (planned == memory.phases.end() || planned->plan.total() <= memory.device_bytes) continue;
    const auto llm = models::read_llama_config((fs::path(s.llm.folder) / "config.json").string());
    const std::int64_t group = phase.stage2 ? group_size : 1;
    const std::string section = phase.stage2 ? "[stage2] " : "[stage1] ";
    // What would fit: each knob alone, then together, the first micro-batch that fits.
    std::vector<std::string> fits;
    const auto fits_with = [&](const Knobs& k, const std::string& what) {
      const auto plan = largest(llm, phase, bf16, group, k, s.search, nullptr);
      if (plan.setting && plan.plan.total() <= memory.device_bytes) {
        fits.push_back(what + " (" + gib(plan.plan.total()) + ")");
        return true;
      }
      return false;
    };
    if (phase.stage2 && group > 1)
      for (const auto level : {train::ShardLevel::optimizer, train::ShardLevel::gradients})
        if (level > phase.knobs.shard) {
          Knobs k = phase.knobs;
          k.shard = level;
          fits_with(k, section + "shard = " + train::to_string(level));
        }
    if (!phase.knobs.activation_checkpointing) {
      Knobs k = phase.knobs;
      k.activation_checkpointing = true;
      fits_with(k, section + "activation_checkpointing = true");
    }
    for (Knobs k = phase.knobs; k.micro_batch > 1;) {
      k.micro_batch /= 2;
      if (fits_with(k, section + "micro_batch = " + std::to_string(k.micro_batch))) break;
    }
    if (fits.empty() && phase.stage2 && group > 1) {
      Knobs k = phase.knobs;
      k.shard = train::ShardLevel::gradients;
      k.activation_checkpointing = true;
      fits_with(k, section + "shard = gradients with activation_checkpointing = true");
    }
    std::string message = phase.phase + " (" + phase.role + " ranks, setting " + planned->setting +
                          ") needs " + gib(planned->plan.total()) + " per rank, above the " +
                          gib(memory.device_bytes) + " of the device" +
                          (job.device_memory_gib > 0 ? " ([layout] device_memory_gib)" : "") + "; ";
    if (fits.empty()) {
      message +=
          "nothing the plan varies fits: a larger worker group, a smaller max_length, or a larger device";
    } else {
      message += "would fit:";
      for (std::size_t i = 0; i < fits.size(); ++i) message += (i ? "; " : " ") + fits[i];
    }
    throw InputError(job.path + ": " + message);
  }
}

}  // namespace acsweep::sweep
