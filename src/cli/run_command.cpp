// acsweep run JOB.ini: the job on every rank of the MPI world (shared/spec/ARCHITECTURE.md).
// A job is a policy simulation sharded into tasks, or a scoring sweep (one task per setting, then
// the finetunes: a given list, or the AC policy's pick once every A and C is in). The tasks run
// in phases, each a sweep over the world; the coordinator chooses the next phase's tasks from
// the results so far. Running the same job again continues it.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>

#include "acsweep/cli/commands.hpp"
#include "acsweep/cli/options.hpp"
#include "acsweep/cli/policy_output.hpp"
#include "acsweep/cli/scoring_job.hpp"
#include "acsweep/cli/scoring_tasks.hpp"
#include "acsweep/cli/simulation_job.hpp"
#include "acsweep/cli/sweep_policy.hpp"
#include "acsweep/error.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/runtime/scheduler.hpp"
#include "acsweep/runtime/signals.hpp"
#include "acsweep/runtime/world.hpp"
#include "acsweep/store/results_file.hpp"
#include "acsweep/store/run_store.hpp"

namespace po = boost::program_options;

namespace acsweep::cli {
namespace {

constexpr const char* kUsage = "acsweep run JOB.ini [--dry-run] [--set section.key=value ...]";
constexpr int kExitSomeFailed = 3;

using Clock = std::chrono::steady_clock;

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

// A scoring job planned on a machine without its models and data (--dry-run): what the job file
// alone says, and what is missing here.
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
    for (const auto& b : s.finetune->benchmarks) std::printf(" %s (%s)", b.name.c_str(), b.kind.c_str());
    std::printf("\n");
  }
  std::printf(
      "not found on this machine (%zu): the data-dependent plan (captions, pairs, costs) needs them\n",
      job.missing.size());
  for (const auto& what : job.missing) std::printf("  %s\n", what.c_str());
}

void print_simulation_plan(const runtime::JobSpec& job, const SimulationJob& sim) {
  double cost = 0;
  for (const auto& task : sim.tasks) cost += task.cost;
  std::printf("tasks: %zu policy_simulation (runs of %lld per task), estimated cost %.0f units\n",
              sim.tasks.size(), static_cast<long long>(job.simulation->runs_per_task), cost);
  for (std::size_t t = 0; t < sim.tables.size(); ++t)
    std::printf("  table %s: %zu settings, %zu benchmarks, %zu budgets, %zu runs\n",
                sim.table_names[t].c_str(), sim.tables[t].size(), sim.tables[t].benchmark_names.size(),
                sim.specs[t].budgets.size(), sim.specs[t].runs);
  std::printf("%8s  %-16s  %10s  %s\n", "row", "hash", "cost", "task");
  for (const auto& task : sim.tasks)
    std::printf("%8llu  %-16s  %10.0f  %s\n", static_cast<unsigned long long>(task.index), task.hash.c_str(),
                task.cost, task.name.c_str());
}

// Progress on stderr at most once a second: done, failed, rate and time left.
class Progress {
 public:
  void operator()(std::size_t done, std::size_t failed, std::size_t total) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
    if (elapsed - last_ < 1.0 && done + failed < total) return;
    last_ = elapsed;
    const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
    const double eta = rate > 0 ? static_cast<double>(total - done - failed) / rate : 0;
    std::fprintf(stderr, "acsweep [coordinator] %zu/%zu tasks done, %zu failed, %.1f tasks/s, ETA %.0f s\n",
                 done, total, failed, rate, eta);
  }

 private:
  Clock::time_point start_ = Clock::now();
  double last_ = -1.0;
};

using Rows = std::vector<std::optional<std::vector<double>>>;

// Each working rank's tasks, busy and idle time over `seconds` (rank 0 coordinates, unless
// alone), and of the idle time how much passed while a task it could run waited.
struct RankTimes {
  std::vector<double> busy, waited;
  std::vector<std::int64_t> tasks;

  explicit RankTimes(std::size_t ranks) : busy(ranks, 0.0), waited(ranks, 0.0), tasks(ranks, 0) {}
  void add(const std::vector<runtime::RankTime>& ranks) {
    for (std::size_t r = 0; r < ranks.size(); ++r) {
      busy[r] += ranks[r].busy_seconds;
      waited[r] += ranks[r].waited_seconds;
      tasks[r] += static_cast<std::int64_t>(ranks[r].tasks);
    }
  }
  void print(double seconds) const {
    for (std::size_t r = busy.size() == 1 ? 0 : 1; r < busy.size(); ++r)
      std::fprintf(
          stderr,
          "  rank %zu: %lld tasks, busy %.2f s, idle %.2f s (%.0f%%; %.2f s of it with a task waiting)\n", r,
          static_cast<long long>(tasks[r]), busy[r], seconds - busy[r],
          seconds > 0 ? 100 * (seconds - busy[r]) / seconds : 0.0, waited[r]);
  }
};

// What `acsweep run` needs of a job, whatever its kind: the tasks, the shape of their results,
// how to run them, which run in which phase, and what to make of them once all are in (rank 0).
struct JobPlan {
  std::vector<runtime::TaskDescriptor> tasks;
  std::size_t width = 0;
  std::map<std::string, std::size_t> sample_widths;
  std::function<void(runtime::TaskRegistry&)> register_tasks;
  std::function<void()> print_plan;
  std::vector<std::string> phase_names{"tasks"};
  std::vector<std::size_t> first_phase;  // task indices
  // On rank 0 after phase `phase` (0-based) with the rows so far: the next phase's task indices
  // (empty: none). Null: one phase.
  std::function<std::vector<std::size_t>(std::size_t phase, const Rows&)> next_phase;
  std::function<void(store::H5File&, const Rows&)> summarise;
};

std::vector<std::size_t> every_index(std::size_t first, std::size_t last) {
  std::vector<std::size_t> out;
  for (std::size_t i = first; i < last; ++i) out.push_back(i);
  return out;
}

JobPlan plan_job(const runtime::JobSpec& job, const runtime::World& world) {
  JobPlan plan;
  if (job.scoring) {
    auto scoring = std::make_shared<ScoringJob>(plan_scoring(job));
    plan.tasks = scoring->tasks;
    plan.first_phase = every_index(0, plan.tasks.size());
    const bool policy = job.scoring->finetune && job.scoring->finetune->policy;
    auto pick = std::make_shared<PolicyPick>();
    if (policy) {  // score every setting, then finetune the policy's pick
      plan.phase_names = {"score", "finetune"};
      plan.first_phase = every_index(0, scoring->score_tasks);
      plan.next_phase = [scoring, pick, &job](std::size_t phase, const Rows& rows) {
        if (phase > 0) return std::vector<std::size_t>{};
        *pick = pick_settings(*scoring, job, rows);
        return finetune_tasks_for(*scoring, job, *pick);
      };
    }
    plan.width = scoring->width();
    plan.sample_widths = scoring->sample_widths();
    plan.register_tasks = [scoring, &job, &world](runtime::TaskRegistry& registry) {
      register_scoring_tasks(registry, *scoring, job, world.rank(), world.local_rank());
    };
    plan.print_plan = [scoring, &job] { print_scoring_plan(*scoring, job); };
    plan.summarise = [scoring, pick, policy, &job](store::H5File& file, const auto& rows) {
      for (const auto& why : scoring->skipped) std::fprintf(stderr, "acsweep: left out: %s\n", why.c_str());
      write_scoring_summary(file, *scoring, job, rows);
      if (policy) write_policy(file, *scoring, job, rows, *pick);
    };
    return plan;
  }
  auto sim = std::make_shared<SimulationJob>(plan_simulation(job));
  plan.tasks = sim->tasks;
  plan.first_phase = every_index(0, plan.tasks.size());
  plan.width = sim->width;
  plan.register_tasks = [sim](runtime::TaskRegistry& registry) { register_simulation_tasks(registry, *sim); };
  plan.print_plan = [sim, &job] { print_simulation_plan(job, *sim); };
  plan.summarise = [sim](store::H5File& file, const auto& rows) {
    const std::vector<law::SimulationResult> results = summarise_simulation(*sim, rows);
    store::H5Location policy = file.create_group("policy");
    for (std::size_t t = 0; t < results.size(); ++t) {
      store::H5Location group = policy.create_group(sim->table_names[t]);
      store::write_policy_simulation(group, sim->tables[t], results[t]);
      print_simulation(sim->tables[t], results[t]);
      std::printf("\n");
    }
  };
  return plan;
}

}  // namespace

int run_run(const std::vector<std::string>& args, const CommandContext& context) {
  po::options_description options("acsweep run options");
  options.add_options()("dry-run", po::bool_switch(), "print the plan and exit")(
      "set", po::value<std::vector<std::string>>()->composing(), "override a job key: section.key=value");
  po::variables_map vm;
  if (!parse_command("run", kUsage, options, args, vm, "JOB.ini")) {
    std::cout << runtime::job_keys_help();
    return 0;
  }
  const bool dry_run = vm["dry-run"].as<bool>();
  const runtime::JobSpec job = runtime::read_job(
      vm["table"].as<std::string>(),
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{}, !dry_run);
  runtime::check_launch(context.mpi.size());
  const runtime::World world(job.layout.value_or(runtime::default_layout(context.mpi.size())),
                             MPI_COMM_WORLD);
  if (dry_run && !job.missing.empty()) {
    if (world.rank() == 0) {
      print_job(job, world);
      print_plan_without_inputs(job);
    }
    return 0;
  }
  const JobPlan plan = plan_job(job, world);  // every rank plans alike: the same rows everywhere
  if (dry_run) {
    if (world.rank() == 0) {
      print_job(job, world);
      plan.print_plan();
    }
    return 0;
  }
  runtime::install_stop_handlers();

  // Rank 0 owns the run directory: which job it is, what earlier segments finished.
  std::unique_ptr<store::RunDirectory> run;
  std::map<std::string, store::JournalRecord> earlier;
  int segment = 0;
  runtime::on_root_then_share_errors(0, world.world(), [&] {
    run = std::make_unique<store::RunDirectory>(job.output, job.name);
    earlier = run->done_by_hash();
    segment = run->last_segment() + 1;
    run->start_segment(segment);
  });
  runtime::broadcast(segment, 0, world.world());
  const std::string this_segment = store::segment_path(job.output, segment);

  store::SegmentFile file(this_segment, world.results(), plan.tasks, plan.width,
                          {segment, job.name, job.text, job.seed, world.size()}, plan.sample_widths);
  store::JournalWriter journal(store::journal_path(job.output, segment, world.rank()));

  // Earlier results whose task definition is unchanged carry over; the rest is the work.
  Rows rows(plan.tasks.size());
  if (world.rank() == 0) {
    std::size_t carried = 0, first_to_run = 0;
    for (const auto& task : plan.tasks) {
      const auto found = earlier.find(task.hash);
      if (found == earlier.end()) continue;
      ++carried;
      rows[task.index] = found->second.values;
      file.record_done(task.index, found->second.values, found->second.seconds, found->second.rank,
                       found->second.segment, found->second.per_sample);
    }
    for (const auto t : plan.first_phase) first_to_run += rows[t] ? 0 : 1;
    std::fprintf(stderr,
                 "acsweep: segment %d of job '%s': %zu tasks, %zu done earlier, %zu to run on %d rank(s)\n",
                 segment, job.name.c_str(), plan.tasks.size(), carried, first_to_run, world.size());
  }

  runtime::TaskRegistry registry;
  plan.register_tasks(registry);
  runtime::SweepHooks hooks;
  hooks.persist = [&](const runtime::TaskDescriptor& task, const runtime::TaskResult& result) {
    file.record_done(task.index, result.values, result.seconds, world.rank(), segment, result.per_sample);
    journal.append({"done", task.index, task.name, task.hash, result.values, result.per_sample, "",
                    world.rank(), segment, result.seconds});
  };
  hooks.record_failure = [&](const runtime::TaskDescriptor& task, const runtime::TaskFailure& failure) {
    std::fprintf(stderr, "acsweep: task %s failed on rank %d after %d attempt(s): %s\n", task.name.c_str(),
                 failure.rank, failure.attempt, failure.message.c_str());
    file.record_failed(task.index, failure.rank);
    journal.append(
        {"failed", task.index, task.name, task.hash, {}, {}, failure.message, failure.rank, segment, 0.0});
  };
  runtime::WorkerGroups groups;
  for (const auto& role : world.roles()) groups.group_of_rank.push_back(role.group);
  if (world.group() != MPI_COMM_NULL) groups.this_rank_group = world.group();

  // The phases: each a sweep over the world; rank 0 picks the next from the rows so far.
  std::vector<std::size_t> phase_tasks = plan.first_phase;
  std::vector<bool> scheduled(plan.tasks.size(), false);  // in some phase
  RankTimes times(static_cast<std::size_t>(world.size()));
  std::vector<double> phase_seconds;
  std::size_t failed = 0, pending = 0;
  bool stopped = false;
  for (std::size_t phase = 0;; ++phase) {
    std::vector<runtime::TaskDescriptor> to_run;
    for (const auto t : phase_tasks) {
      scheduled[t] = true;
      if (!rows[t]) to_run.push_back(plan.tasks[t]);
    }
    if (world.rank() == 0 && phase > 0)
      std::fprintf(stderr, "acsweep: phase %s: %zu tasks, %zu done earlier, %zu to run\n",
                   plan.phase_names.at(phase).c_str(), phase_tasks.size(), phase_tasks.size() - to_run.size(),
                   to_run.size());
    hooks.progress = Progress();
    const runtime::SweepReport report =
        run_sweep(to_run, registry, hooks, job.max_attempts, world.world(), 0, groups);
    if (world.rank() == 0) {
      for (const auto& result : report.results)
        if (result) rows[result->index] = result->values;
      failed += report.failed.size();
      pending += report.pending;
      stopped = report.stopped;
      phase_seconds.push_back(report.seconds);
      std::fprintf(stderr, "acsweep: phase %s took %.2f s\n", plan.phase_names.at(phase).c_str(),
                   report.seconds);
      RankTimes phase_times(report.ranks.size());
      phase_times.add(report.ranks);
      if (to_run.empty())
        std::fprintf(stderr, "  nothing to run: every task of this phase was done earlier\n");
      else
        phase_times.print(report.seconds);
      times.add(report.ranks);
    }
    int more = 0;
    runtime::on_root_then_share_errors(0, world.world(), [&] {
      phase_tasks.clear();
      if (!stopped && plan.next_phase) phase_tasks = plan.next_phase(phase, rows);
      more = phase_tasks.empty() ? 0 : 1;
    });
    runtime::broadcast(more, 0, world.world());
    if (!more) break;
  }
  if (world.rank() == 0 && !stopped)  // what no phase asked for is settled, not pending
    for (std::size_t t = 0; t < plan.tasks.size(); ++t)
      if (!scheduled[t] && !rows[t]) file.record_not_needed(t);
  file.close();  // collective: every rank's rows are on disk

  if (world.rank() != 0) return 0;
  if (stopped) {
    store::H5File stopped_file = store::H5File::open_read_write(this_segment);
    store::mark_segment_stopped(stopped_file);
    stopped_file.close();
    std::fprintf(
        stderr, "acsweep: stopped by a signal: %zu task(s) pending; run the same command again to continue\n",
        pending);
    return 0;
  }
  if (failed > 0) {
    std::fprintf(stderr, "acsweep: %zu task(s) failed; the results of the others are in %s\n", failed,
                 this_segment.c_str());
    return kExitSomeFailed;
  }

  store::H5File summary = store::H5File::open_read_write(this_segment);
  plan.summarise(summary, rows);
  double total = 0;
  for (const double seconds : phase_seconds) total += seconds;
  store::H5Location ranks = summary.create_group("ranks");
  ranks.write("busy_seconds", times.busy);
  ranks.write("waited_seconds", times.waited);
  ranks.write("tasks", times.tasks);
  ranks.write("phase_seconds", phase_seconds);
  ranks.write("phase",
              std::vector<std::string>(plan.phase_names.begin(),
                                       plan.phase_names.begin() + static_cast<long>(phase_seconds.size())));
  ranks.set_attribute("sweep_seconds", total);
  store::mark_segment_complete(summary);
  summary.close();
  std::fprintf(stderr, "acsweep: sweep took %.2f s; results in %s\n", total, this_segment.c_str());
  times.print(total);
  return 0;
}

}  // namespace acsweep::cli
