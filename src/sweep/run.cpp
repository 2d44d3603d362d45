#include "acsweep/sweep/run.hpp"

#include <cstdio>
#include <iterator>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "acsweep/runtime/mpi.hpp"
#include "acsweep/runtime/scheduler.hpp"
#include "acsweep/store/journal.hpp"
#include "acsweep/store/results_file.hpp"
#include "acsweep/store/run_store.hpp"
#include "acsweep/sweep/phases.hpp"

namespace acsweep::sweep {
namespace {

std::string readable_bytes(std::uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1000 && unit + 1 < std::size(units)) {
    value /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

// InputError unless the segment about to be created fits the free space of the results folder,
// naming what makes it large.
void check_segment_fits(const runtime::JobSpec& job, const JobPlan& plan, const std::string& segment) {
  const std::uint64_t need = store::segment_bytes(plan.tasks.size(), plan.width, plan.sample_widths);
  const std::uint64_t free = store::free_bytes(job.output);
  if (need <= free) return;
  std::string largest = "tasks/values (" + std::to_string(plan.tasks.size()) + " tasks x " +
                        std::to_string(plan.width) + " values)";
  std::size_t widest = plan.width;
  for (const auto& [name, width] : plan.sample_widths)
    if (width > widest) {
      widest = width;
      largest = "tasks/per_sample/" + name + " (" + std::to_string(plan.tasks.size()) + " tasks x " +
                std::to_string(width) + " values: " + ScoringPlan::sample_width_source(name) + ")";
    }
  throw InputError(segment + " would take " + readable_bytes(need) + " when it is created, and " +
                   job.output + " has " + readable_bytes(free) + " free; the largest part is " + largest);
}

}  // namespace

RunReport run_job(const runtime::JobSpec& job, const runtime::World& world, const JobPlan& plan,
                  const RunOptions& options) {
  // Rank 0 owns the run directory: which job it is, what earlier segments finished.
  std::unique_ptr<store::RunDirectory> run;
  std::unique_ptr<store::RunLock> lock;  // held by rank 0 until the run ends
  std::map<std::string, store::JournalRecord> earlier;
  int segment = 0;
  runtime::on_root_then_share_errors(0, world.world(), [&] {
    run = std::make_unique<store::RunDirectory>(job.output, job.name);
    lock = std::make_unique<store::RunLock>(job.output);
    std::vector<store::CorruptRecord> corrupt;
    earlier = run->done_by_hash(options.recompute_corrupt ? &corrupt : nullptr);
    std::map<std::string, std::vector<std::size_t>> lines_of;
    for (const auto& bad : corrupt) {
      std::fprintf(stderr,
                   "acsweep: journal %s, line %zu: %s: set aside in %s.corrupt; its task is computed again\n",
                   bad.path.c_str(), bad.line, bad.why.c_str(), bad.path.c_str());
      lines_of[bad.path].push_back(bad.line);
    }
    for (const auto& [path, lines] : lines_of) store::set_aside_lines(path, lines);
    segment = run->last_segment() + 1;
    check_segment_fits(job, plan, store::segment_path(job.output, segment));
    run->start_segment(segment);
  });
  runtime::broadcast(segment, 0, world.world());
  const std::string this_segment = store::segment_path(job.output, segment);

  store::SegmentFile file(this_segment, world.results(), plan.tasks, plan.width,
                          {segment, job.name, job.text, job.seed, world.size()}, plan.sample_widths);
  store::JournalWriter journal(store::journal_path(job.output, segment, world.rank()));

  // Earlier results whose task definition is unchanged carry over; the rest is the work.
  TaskRows rows(plan.tasks.size());
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
  const PhasesReport phases = run_phases(plan, job, world, registry, hooks, rows);
  if (world.rank() == 0 && !phases.stopped)  // what no phase asked for is settled, not pending
    for (std::size_t t = 0; t < plan.tasks.size(); ++t)
      if (!phases.scheduled[t] && !rows[t]) file.record_not_needed(t);
  file.close();  // collective: every rank's rows are on disk
  auto peak_bytes = gather_peak_memory(world);

  RunReport report;
  report.segment = this_segment;
  if (world.rank() != 0) return report;
  report.failed = phases.failed;
  report.pending = phases.pending;
  report.times = phases.times;
  report.times.peak_bytes = std::move(peak_bytes);
  for (const double seconds : phases.phase_seconds) report.seconds += seconds;
  if (phases.stopped) {
    report.ending = RunEnding::stopped;
    store::H5File stopped_file = store::H5File::open_read_write(this_segment);
    store::mark_segment_stopped(stopped_file);
    stopped_file.close();
    return report;
  }
  if (phases.failed > 0) {
    report.ending = RunEnding::some_failed;
    return report;
  }

  store::H5File summary = store::H5File::open_read_write(this_segment);
  plan.summarise(summary, rows);
  store::H5Location ranks = summary.create_group("ranks");
  ranks.write("busy_seconds", phases.times.busy);
  ranks.write("waited_seconds", phases.times.waited);
  ranks.write("tasks", phases.times.tasks);
  ranks.write("peak_memory_bytes", report.times.peak_bytes);
  ranks.write("phase_seconds", phases.phase_seconds);
  ranks.write("phase", std::vector<std::string>(
                           plan.phase_names.begin(),
                           plan.phase_names.begin() + static_cast<long>(phases.phase_seconds.size())));
  ranks.set_attribute("sweep_seconds", report.seconds);
  store::mark_segment_complete(summary);
  summary.close();
  return report;
}

}  // namespace acsweep::sweep
