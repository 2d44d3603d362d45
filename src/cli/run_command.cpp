// acsweep run JOB.ini: the job on every rank of the MPI world (shared/spec/ARCHITECTURE.md).
// A job is a policy simulation sharded into tasks, or a scoring sweep (one task per setting);
// the sampling, finetuning and fits join with their issues. Running the same job again
// continues it.
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
#include "acsweep/cli/simulation_job.hpp"
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
  std::printf("layout: world of %d: 1 coordinator, %d worker group(s) of %d, %d scorer(s)\n", world.size(),
              world.layout().groups, world.layout().group_size,
              world.size() == 1 ? 0 : world.size() - 1 - world.layout().groups * world.layout().group_size);
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

// What `acsweep run` needs of a job, whatever its kind: the tasks, the shape of their results,
// how to run them, and what to make of them once all are in (rank 0).
struct JobPlan {
  std::vector<runtime::TaskDescriptor> tasks;
  std::size_t width = 0;
  std::map<std::string, std::size_t> sample_widths;
  std::function<void(runtime::TaskRegistry&)> register_tasks;
  std::function<void()> print_plan;
  std::function<void(store::H5File&, const std::vector<std::optional<std::vector<double>>>&)> summarise;
};

JobPlan plan_job(const runtime::JobSpec& job, const runtime::World& world) {
  JobPlan plan;
  if (job.scoring) {
    auto scoring = std::make_shared<ScoringJob>(plan_scoring(job));
    plan.tasks = scoring->tasks;
    plan.width = scoring->width();
    plan.sample_widths = scoring->sample_widths();
    plan.register_tasks = [scoring, &job, &world](runtime::TaskRegistry& registry) {
      register_scoring_tasks(registry, *scoring, job, world.rank(), world.local_rank());
    };
    plan.print_plan = [scoring, &job] { print_scoring_plan(*scoring, job); };
    plan.summarise = [scoring, &job](store::H5File& file, const auto& rows) {
      for (const auto& why : scoring->skipped) std::fprintf(stderr, "acsweep: left out: %s\n", why.c_str());
      write_scoring_summary(file, *scoring, job, rows);
    };
    return plan;
  }
  auto sim = std::make_shared<SimulationJob>(plan_simulation(job));
  plan.tasks = sim->tasks;
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
  const runtime::JobSpec job = runtime::read_job(
      vm["table"].as<std::string>(),
      vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{});
  runtime::check_launch(context.mpi.size());
  const runtime::World world(job.layout.value_or(runtime::default_layout(context.mpi.size())),
                             MPI_COMM_WORLD);
  const JobPlan plan = plan_job(job, world);  // every rank plans alike: the same rows everywhere
  if (vm["dry-run"].as<bool>()) {
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
  std::vector<std::optional<std::vector<double>>> rows(plan.tasks.size());
  std::vector<runtime::TaskDescriptor> to_run;
  if (world.rank() == 0) {
    for (const auto& task : plan.tasks) {
      const auto found = earlier.find(task.hash);
      if (found == earlier.end()) {
        to_run.push_back(task);
        continue;
      }
      rows[task.index] = found->second.values;
      file.record_done(task.index, found->second.values, found->second.seconds, found->second.rank,
                       found->second.segment, found->second.per_sample);
    }
    std::fprintf(stderr,
                 "acsweep: segment %d of job '%s': %zu tasks, %zu done earlier, %zu to run on %d rank(s)\n",
                 segment, job.name.c_str(), plan.tasks.size(), plan.tasks.size() - to_run.size(),
                 to_run.size(), world.size());
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
  hooks.progress = Progress();
  runtime::WorkerGroups groups;
  for (const auto& role : world.roles()) groups.group_of_rank.push_back(role.group);
  if (world.group() != MPI_COMM_NULL) groups.this_rank_group = world.group();
  const runtime::SweepReport report =
      run_sweep(to_run, registry, hooks, job.max_attempts, world.world(), 0, groups);
  file.close();  // collective: every rank's rows are on disk

  if (world.rank() != 0) return 0;
  for (const auto& result : report.results)
    if (result) rows[result->index] = result->values;
  if (report.stopped) {
    store::H5File stopped = store::H5File::open_read_write(this_segment);
    store::mark_segment_stopped(stopped);
    stopped.close();
    std::fprintf(
        stderr, "acsweep: stopped by a signal: %zu task(s) pending; run the same command again to continue\n",
        report.pending);
    return 0;
  }
  if (!report.failed.empty()) {
    std::fprintf(stderr, "acsweep: %zu task(s) failed; the results of the others are in %s\n",
                 report.failed.size(), this_segment.c_str());
    return kExitSomeFailed;
  }

  store::H5File summary = store::H5File::open_read_write(this_segment);
  plan.summarise(summary, rows);
  std::vector<double> busy;
  std::vector<std::int64_t> counts;
  for (const auto& r : report.ranks) {
    busy.push_back(r.busy_seconds);
    counts.push_back(static_cast<std::int64_t>(r.tasks));
  }
  store::H5Location ranks = summary.create_group("ranks");
  ranks.write("busy_seconds", busy);
  ranks.write("tasks", counts);
  ranks.set_attribute("sweep_seconds", report.seconds);
  store::mark_segment_complete(summary);
  summary.close();
  std::fprintf(stderr, "acsweep: sweep took %.2f s; results in %s\n", report.seconds, this_segment.c_str());
  for (std::size_t r = report.ranks.size() == 1 ? 0 : 1; r < report.ranks.size();
       ++r) {  // rank 0 coordinates
    const double idle = report.seconds - report.ranks[r].busy_seconds;
    std::fprintf(stderr, "  rank %zu: %zu tasks, busy %.2f s, idle %.2f s (%.0f%%)\n", r,
                 report.ranks[r].tasks, report.ranks[r].busy_seconds, idle,
                 report.seconds > 0 ? 100 * idle / report.seconds : 0.0);
  }
  return 0;
}

}  // namespace acsweep::cli
