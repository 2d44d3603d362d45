// What `acsweep run JOB --dry-run` prints: the job, the layout of the world and the plan of the
// job's tasks (or, where the job's models and data are not on this machine, what the job file
// alone says and what is missing).
#include "acsweep/cli/plan_output.hpp"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

namespace acsweep::cli {
namespace {

// "NAME (KIND, generated|likelihood)": how the benchmark's answers are given.
std::string benchmark_answering(const runtime::BenchmarkSpec& b, const runtime::FinetuneSection& f) {
  const bool capped = f.answering(b.kind) == "generated" && f.new_tokens(b.kind) != f.max_new_tokens;
  return b.name + " (" + b.kind + ", " + f.answering(b.kind) +
         (capped ? ", at most " + std::to_string(f.new_tokens(b.kind)) + " new tokens as lmms-eval" : "") +
         ")";
}

// When a part of the memory plan is alive, as the text plan says it.
const char* when_text(train::When when) {
  switch (when) {
    case train::When::step:
      return "held";
    case train::When::encode:
      return "before the pass, encoding";
    case train::When::pass:
      return "pass";
    case train::When::loss:
      return "pass, at the loss";
    case train::When::backward:
      return "pass, at the largest gradient";
    case train::When::reduction:
      return "after the pass, reducing";
    case train::When::update:
      return "after the pass, AdamW";
  }
  return "?";
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

void print_scoring_plan(const sweep::ScoringPlan& plan, const runtime::JobSpec& job) {
  const auto& s = *job.scoring;
  std::printf(
      "scoring: %zu settings; Stage 1 on %zu captions (%zu steps of %lld), A on %zu held out, C on %zu pairs "
      "(%zu keypoints, %zu categories, split %s)\n",
      plan.score_tasks, plan.train.size(), plan.stage1_steps, static_cast<long long>(s.stage1.global_batch),
      plan.heldout.size(), plan.pair_names.size(), plan.keypoints, plan.categories.size(),
      s.c_score.split.c_str());
  if (s.stage1.data_parallel)
    std::printf("Stage 1: data-parallel over each worker group (score tasks run on whole groups)\n");
  if (s.finetune && s.finetune->policy) {
    const std::string& sampler = s.finetune->sampler;
    std::printf("policy: %s picks %zu of the %zu settings once every A and C is in%s\n",
                sampler == "random" ? "random selection"
                : sampler == "sequential"
                    ? "the sequential policy (a round per worker group count, each from the "
                      "fit so far)"
                    : "region-based sampling",
                s.finetune->budget, plan.score_tasks,
                s.finetune->validate ? "; validation finetunes every setting to judge the pick" : "");
  }
  if (plan.known.count() > 0)
    std::printf("known: %zu settings' benchmark results given ([known]): they count as finetuned\n",
                plan.known.count());
  if (plan.score_tasks < plan.tasks.size())
    std::printf(
        "finetuning: %s%zu settings, Stage 2 (%zu steps of %lld) on worker groups, then %zu benchmarks "
        "(%s)\n",
        s.finetune->policy && !s.finetune->validate ? "at most " : "",
        s.finetune->policy && !s.finetune->validate
            ? std::min(s.finetune->budget, plan.tasks.size() - plan.score_tasks)
            : plan.tasks.size() - plan.score_tasks,
        plan.stage2_steps, static_cast<long long>(s.finetune->stage2.global_batch),
        plan.benchmark_names.size(), join(plan.benchmark_names, ", ").c_str());
  if (plan.score_tasks < plan.tasks.size()) {
    std::vector<std::string> answered;
    bool generates = false;
    for (const auto& b : s.finetune->benchmarks) {
      answered.push_back(benchmark_answering(b, *s.finetune));
      generates = generates || s.finetune->answering(b.kind) == "generated";
    }
    std::printf("benchmarks: %s", join(answered, ", ").c_str());
    if (generates)
      std::printf("; greedy generation of at most %lld new tokens, %lld items at a time",
                  static_cast<long long>(s.finetune->max_new_tokens),
                  static_cast<long long>(s.finetune->generation_batch));
    std::printf("\n");
  }
  if (!plan.skipped.empty())
    std::printf("left out of the data: %zu items (the run lists them)\n", plan.skipped.size());
  std::printf("%6s  %-16s  %12s  %s\n", "row", "hash", "cost", "setting (encoders)");
  for (const auto& task : plan.tasks) {
    const auto& setting = s.search.settings[std::stoul(task.inputs.at("setting"))];
    std::printf("%6llu  %-16s  %12.3g  %s (%s)\n", static_cast<unsigned long long>(task.index),
                task.hash.c_str(), task.cost, task.name.c_str(), join(setting.folders, ", ").c_str());
  }
}

void print_simulation_plan(const runtime::JobSpec& job, const sweep::SimulationPlan& sim) {
  double cost = 0;
  for (const auto& task : sim.tasks) cost += task.cost;
  std::printf("tasks: %zu policy_simulation (runs of %lld per task), estimated cost %.0f units\n",
              sim.tasks.size(), static_cast<long long>(job.simulation->runs_per_task), cost);
  for (std::size_t e = 0; e < sim.specs.size(); ++e) {
    const std::size_t t = sim.spec_table[e];
    std::printf("  table %s: %zu settings, %zu benchmarks, %zu budgets, %zu runs, %s counting\n",
                sim.table_names[t].c_str(), sim.tables[t].size(), sim.tables[t].benchmark_names.size(),
                sim.specs[e].budgets.size(), sim.specs[e].runs,
                law::to_string(sim.specs[e].counting).c_str());
  }
  std::printf("%8s  %-16s  %10s  %s\n", "row", "hash", "cost", "task");
  for (const auto& task : sim.tasks)
    std::printf("%8llu  %-16s  %10.0f  %s\n", static_cast<unsigned long long>(task.index), task.hash.c_str(),
                task.cost, task.name.c_str());
}

}  // namespace

void print_job(const runtime::JobSpec& job, const runtime::World& world) {
  std::printf("job '%s' (%s), seed %llu, results in %s\n", job.name.c_str(), job.path.c_str(),
              static_cast<unsigned long long>(job.seed), job.output.c_str());
  if (world.size() == 1) {
    if (job.layout)
      std::printf(
          "layout: the job asks for %d worker group(s) of %d (at least %d ranks); one process runs "
          "every task in order\n",
          job.layout->groups, job.layout->group_size, 1 + job.layout->groups * job.layout->group_size);
    else
      std::printf("layout: one process runs every task in order\n");
    return;
  }
  std::printf("layout: world of %d: 1 coordinator, %d worker group(s) of %d, %d scorer(s)\n", world.size(),
              world.layout().groups, world.layout().group_size,
              world.size() - 1 - world.layout().groups * world.layout().group_size);
}

void print_plan_without_inputs(const runtime::JobSpec& job) {
  const auto& s = *job.scoring;
  std::printf("scoring: %zu settings (layer %d, %s)\n", s.search.settings.size(), s.search.layer,
              s.search.pad_to_square ? "pad" : "crop");
  for (const auto& setting : s.search.settings) {
    std::printf("  %-28s", setting.name.c_str());
    for (std::size_t i = 0; i < setting.encoders.size(); ++i)
      std::printf("%s%s", i ? " + " : "", setting.folders[i].c_str());
    std::printf("\n");
  }
  if (s.finetune) {
    std::printf("finetuning: %s; Stage 2 global batch %lld, %lld epoch(s); benchmarks:",
                s.finetune->policy
                    ? ("the AC policy's pick of " + std::to_string(s.finetune->budget) +
                       (s.finetune->validate ? " (and every setting, to validate)" : ""))
                          .c_str()
                    : (std::to_string(s.finetune->settings.size()) + " listed settings").c_str(),
                static_cast<long long>(s.finetune->stage2.global_batch),
                static_cast<long long>(s.finetune->stage2.epochs));
    for (const auto& b : s.finetune->benchmarks)
      std::printf(" %s", benchmark_answering(b, *s.finetune).c_str());
    std::printf("\n");
  }
  std::printf(
      "not found on this machine (%zu): the data-dependent plan (captions, pairs, costs) needs them\n",
      job.missing.size());
  for (const auto& what : job.missing) std::printf("  %s\n", what.c_str());
}

void print_plan(const sweep::JobPlan& plan, const runtime::JobSpec& job) {
  if (plan.scoring) print_scoring_plan(*plan.scoring, job);
  if (plan.simulation) print_simulation_plan(job, *plan.simulation);
}

void print_memory_plan(const sweep::JobMemory& memory) {
  const auto gib = [](std::int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); };
  char device[32] = "no limit known";
  if (memory.device_bytes > 0) std::snprintf(device, sizeof device, "%.1f GiB", gib(memory.device_bytes));
  std::printf("memory per rank (planned from config.json and preprocessor_config.json; device: %s):\n",
              device);
  std::printf(
      "  (the peak: what is held, plus the encoders' forward, the pass with the larger of its two moments, "
      "or the larger moment after the pass)\n");
  for (const auto& p : memory.phases) {
    std::printf("  %-8s %-6s %7.2f GiB  (largest setting %s, shard %s, %s weights%s)\n", p.phase.c_str(),
                p.role.c_str(), gib(p.plan.total()), p.setting.c_str(), p.shard.c_str(), p.weights.c_str(),
                memory.device_bytes > 0 && p.plan.total() > memory.device_bytes ? ", DOES NOT FIT" : "");
    for (const auto& part : p.plan.parts)
      if (part.bytes > 0)
        std::printf("      %-20s %9.3f GiB  %s\n", part.name.c_str(), gib(part.bytes), when_text(part.when));
  }
  for (const auto& what : memory.unknown) std::printf("  not planned: %s\n", what.c_str());
}

void print_memory_json(const sweep::JobMemory& memory) {
  nlohmann::ordered_json doc;
  auto& phases = doc["memory"] = nlohmann::ordered_json::object();
  for (const auto& p : memory.phases) {
    nlohmann::ordered_json parts = nlohmann::ordered_json::object(), when = nlohmann::ordered_json::object();
    for (const auto& part : p.plan.parts) {
      parts[part.name] = part.bytes;
      when[part.name] = train::when_name(part.when);
    }
    phases[p.phase] = {{"role", p.role},
                       {"setting", p.setting},
                       {"shard", p.shard},
                       {"weights", p.weights},
                       {"per_rank_bytes", p.plan.total()},
                       {"parts", parts},
                       {"when", when}};
  }
  doc["device_bytes"] = memory.device_bytes;
  doc["unknown"] = memory.unknown;
  std::cout << doc.dump(2) << "\n";
}

}  // namespace acsweep::cli
