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
#include "acsweep/sweep/encoder_options.hpp"
#include "acsweep/train/sharded_adamw.hpp"

namespace acsweep::sweep {
namespace {
namespace fs = std::filesystem;

// What a phase's plan varies: the knobs the refusal message suggests.
struct Knobs {
  std::int64_t micro_batch = 1;
  bool activation_checkpointing = false;
  train::ShardLevel shard = train::ShardLevel::none;
  bool bf16_weights = false;  // Stage 2's weights compute in bf16 over float32 master shards
};

struct Representation {
  std::int64_t channels = 0, visual_tokens = 0, encoder_bytes = 0;
  std::vector<models::EncoderShape> members;
};

// The encoders' forward on `images` at its peak: the members run one after another, so the largest
// one's pass (on as many images as it takes at once) beside the grids made before it.
std::int64_t encoder_pass_bytes(const Representation& r, std::int64_t images) {
  std::int64_t largest = 0, grids = 0;
  for (const auto& m : r.members) {
    const auto at_once = m.images_per_pass > 0 ? std::min(images, m.images_per_pass) : images;
    largest = std::max(largest, at_once * m.activation_bytes);
    grids += images * 4 * m.channels * m.grid_width * m.grid_height;
  }
  return largest + grids;
}

Representation representation_of(const runtime::SettingSpec& setting, const runtime::SearchSection& search) {
  Representation r;
  const auto options = encoder_options(setting, search);
  std::int64_t grid = 0;
  bool known = true;
  for (const auto& folder : setting.folders) {
    const auto shape = models::encoder_shape(folder, options);
    r.channels += shape.channels;
    r.encoder_bytes += shape.weight_bytes;
    r.members.push_back(shape);
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
  shape.encoder_pass_bytes = encoder_pass_bytes(r, k.micro_batch);
  shape.train_llm = stage2;
  shape.bf16 = bf16 || (stage2 && k.bf16_weights);  // bf16 weights compute under autocast
  shape.activation_checkpointing = k.activation_checkpointing;
  shape.weight_bytes = stage2 && k.bf16_weights ? 2 : 4;
  return train::plan_training(llm, shape, stage2 ? k.shard : train::ShardLevel::none);
}

struct PhaseInputs {
  std::string phase, role;
  bool stage2 = false;
  std::int64_t max_length = 0;
  Knobs knobs;
  std::vector<const runtime::SettingSpec*> settings;
};

std::vector<PhaseInputs> phases_of(const runtime::ScoringSection& s, const Stage2Layout& layout) {
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
                         {t.micro_batch, t.activation_checkpointing, layout.shard, layout.bf16_weights},
                         {}};
    const std::set<std::string> listed(s.finetune->settings.begin(), s.finetune->settings.end());
    for (const auto& setting : s.search.settings)
      if (s.finetune->policy || listed.count("all") || listed.count(setting.name))
        finetune.settings.push_back(&setting);
    if (!finetune.settings.empty()) out.push_back(finetune);
  }
  return out;
}

// A job is planned for CUDA where CUDA is here, or where it gives the device's memory (a login
// node planning for the cluster's GPUs).
bool cuda_target(const runtime::JobSpec& job) {
  return torch::cuda::is_available() || job.device_memory_gib > 0;
}

bool plans_bf16(const runtime::JobSpec& job) {
  const auto& autocast = job.scoring->llm.autocast;
  return autocast == "bf16" || (autocast == "auto" && cuda_target(job));
}

bool bf16_weights_at(const runtime::Stage2Section& t, train::ShardLevel level, bool cuda) {
  if (level == train::ShardLevel::none) return false;
  return t.param_dtype == "bf16" || (t.param_dtype == "auto" && cuda);
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

std::int64_t device_memory(const runtime::JobSpec& job) {
  if (job.device_memory_gib > 0)
    return static_cast<std::int64_t>(job.device_memory_gib * 1024.0 * 1024.0 * 1024.0);
  return torch::cuda::is_available() ? models::device_memory_bytes(0) : 0;
}

Stage2Layout stage2_layout(const runtime::JobSpec& job, int group_size, bool cuda,
                           std::int64_t device_bytes) {
  if (!job.scoring || !job.scoring->finetune) return {};
  const auto& s = *job.scoring;
  const auto& t = s.finetune->stage2;
  if (t.shard != "auto") {
    const auto level = train::shard_level(t.shard);
    return {level, bf16_weights_at(t, level, cuda)};
  }
  std::vector<train::ShardLevel> candidates{train::ShardLevel::optimizer, train::ShardLevel::gradients,
                                            train::ShardLevel::parameters};
  if (t.param_dtype != "bf16") candidates.insert(candidates.begin(), train::ShardLevel::none);
  const auto at = [&](train::ShardLevel level) {
    return Stage2Layout{level, bf16_weights_at(t, level, cuda)};
  };
  const auto config = (fs::path(s.llm.folder) / "config.json").string();
  if (device_bytes <= 0 || !fs::is_regular_file(config)) return at(candidates.front());
  const auto llm = models::read_llama_config(config);
  for (const auto& phase : phases_of(s, {})) {
    if (!phase.stage2) continue;
    for (const auto level : candidates) {
      Knobs k = phase.knobs;
      k.shard = level;
      k.bf16_weights = bf16_weights_at(t, level, cuda);
      const auto plan = largest(llm, phase, plans_bf16(job), group_size, k, s.search, nullptr);
      if (!plan.setting || plan.plan.total() <= device_bytes) return at(level);
    }
  }
  return at(train::ShardLevel::parameters);  // the least memory; check_memory says what else would fit
}

JobMemory plan_memory(const runtime::JobSpec& job, int group_size) {
  JobMemory memory;
  if (!job.scoring) return memory;
  const auto& s = *job.scoring;
  memory.device_bytes = device_memory(job);
  memory.stage2 = stage2_layout(job, group_size, cuda_target(job), memory.device_bytes);
  const auto config = (fs::path(s.llm.folder) / "config.json").string();
  if (!fs::is_regular_file(config)) {
    memory.unknown.push_back(config + ": not found (the LLM's sizes come from it)");
    return memory;
  }
  const auto llm = models::read_llama_config(config);
  const bool bf16 = plans_bf16(job);
  for (const auto& phase : phases_of(s, memory.stage2)) {
    const std::int64_t group = phase.stage2 ? group_size : 1;
    auto best = largest(llm, phase, bf16, group, phase.knobs, s.search, &memory.unknown);
    if (!best.setting) continue;
    memory.phases.push_back({phase.phase, phase.role, best.setting->name, train::to_string(phase.knobs.shard),
                             phase.stage2 && phase.knobs.bf16_weights ? "bf16" : "fp32",
                             std::move(best.plan)});
  }
  return memory;
}

TrainableParameters trainable_parameters(const runtime::JobSpec& job, const runtime::SettingSpec& setting) {
  const auto& s = *job.scoring;
  const auto llm = models::read_llama_config((fs::path(s.llm.folder) / "config.json").string());
  const auto projector =
      train::projector_parameters(representation_of(setting, s.search).channels, llm.hidden_size);
  return {projector, projector + train::llama_parameters(llm)};
}

void check_memory(const JobMemory& memory, const runtime::JobSpec& job, int group_size) {
  if (memory.device_bytes <= 0 || !job.scoring) return;
  const auto& s = *job.scoring;
  const bool bf16 = plans_bf16(job);
  for (const auto& phase : phases_of(s, memory.stage2)) {
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
    const auto& t = s.finetune->stage2;
    if (phase.stage2)
      for (const auto level :
           {train::ShardLevel::optimizer, train::ShardLevel::gradients, train::ShardLevel::parameters})
        if (level > phase.knobs.shard && (group > 1 || bf16_weights_at(t, level, cuda_target(job)))) {
          Knobs k = phase.knobs;
          k.shard = level;
          k.bf16_weights = bf16_weights_at(t, level, cuda_target(job));
          fits_with(
              k, section + "shard = " + train::to_string(level) + (k.bf16_weights ? " (bf16 weights)" : ""));
        }
    if (phase.stage2 && phase.knobs.shard != train::ShardLevel::none && !phase.knobs.bf16_weights) {
      Knobs k = phase.knobs;
      k.bf16_weights = true;
      fits_with(k, section + "param_dtype = bf16");
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
      k.bf16_weights = bf16_weights_at(t, k.shard, cuda_target(job));
      k.activation_checkpointing = true;
      fits_with(k, section + "shard = gradients with activation_checkpointing = true");
      k.shard = train::ShardLevel::parameters;
      while (k.micro_batch > 1 && fits.empty()) {
        k.micro_batch /= 2;
        fits_with(k, section + "shard = parameters with micro_batch = " + std::to_string(k.micro_batch));
      }
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
