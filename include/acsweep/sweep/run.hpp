#pragma once
// A run of a job (shared/spec/ARCHITECTURE.md, "Results and resume"): the next segment of the
// job's run directory, the results of earlier segments whose task definition is unchanged carried
// into it, the phases, and once every task is in, the job's summary and where the time went.
// Running the same job again continues it.
#include <cstddef>
#include <string>

#include "acsweep/runtime/job_file.hpp"
#include "acsweep/runtime/world.hpp"
#include "acsweep/sweep/job_plan.hpp"
#include "acsweep/sweep/rank_times.hpp"

namespace acsweep::sweep {

enum class RunEnding {
  complete,     // every task done; the summary is written and the segment marked complete
  stopped,      // by a signal: the segment is marked stopped, the rest pending
  some_failed,  // the others' results are in the segment, without a summary
};

struct RunReport {  // rank 0's; on the other ranks only `segment` is set
  RunEnding ending = RunEnding::complete;
  std::string segment;  // the segment file of this run
  std::size_t failed = 0, pending = 0;
  double seconds = 0;  // of all phases
  RankTimes times;
};

struct RunOptions {
  // A corrupt line of an earlier segment's journal is set aside (journal.hpp: set_aside_lines)
  // and its task computed again, instead of refusing the run (`acsweep run --recompute-corrupt`).
  bool recompute_corrupt = false;
};

// Collective over the world; the stop handlers should be installed first. Progress goes to
// stderr, the summary's tables to stdout.
RunReport run_job(const runtime::JobSpec& job, const runtime::World& world, const JobPlan& plan,
                  const RunOptions& options = {});

}  // namespace acsweep::sweep
