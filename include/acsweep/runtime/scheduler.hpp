#pragma once
// Dynamic scheduling of tasks over ranks (shared/spec/ARCHITECTURE.md, "Pipeline"): the
// coordinator hands out tasks largest estimated cost first to whichever rank is idle; a task that
// throws is reported with its message and retried up to max_attempts times (a FinalFailure,
// error.hpp, not at all), then recorded as failed while the sweep goes on. Every task ends exactly
// once: done, failed, or (after a stop signal) still pending.
#include <mpi.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "acsweep/runtime/messages.hpp"

namespace acsweep::runtime {

using TaskFunction = std::function<TaskResult(const TaskDescriptor&)>;
// A whole-group task runs on every rank of a worker group with the group's communicator; the
// result of group rank 0 is the task's result.
using GroupTaskFunction = std::function<TaskResult(const TaskDescriptor&, MPI_Comm group)>;

// Task kinds by name. The scoring and finetuning modules add theirs; tests define their own.
class TaskRegistry {
 public:
  void add(const std::string& kind, TaskFunction function);
  void add_group(const std::string& kind, GroupTaskFunction function);
  // Runs the task's function (a group function with `group`); throws when its kind is unknown
  // or the function throws.
  TaskResult run(const TaskDescriptor& task, MPI_Comm group = MPI_COMM_SELF) const;

 private:
  std::map<std::string, TaskFunction> functions_;
  std::map<std::string, GroupTaskFunction> group_functions_;
};

// The worker groups of the sweep's communicator. Ranks of a group take single-rank tasks while
// no whole-group task waits; once one waits, they are held back until their whole group is idle.
// Without groups, a whole-group task runs on one rank as a group of one.
struct WorkerGroups {
  std::vector<int> group_of_rank;            // by rank of the sweep's communicator; -1 outside groups
  MPI_Comm this_rank_group = MPI_COMM_SELF;  // this rank's group communicator
};

struct SweepHooks {
  // On the rank that computed a result (group rank 0 of a whole-group task), before it is
  // reported: make it durable (results row, journal, fsync). If this throws, the task fails.
  std::function<void(const TaskDescriptor&, const TaskResult&)> persist;
  // On the coordinator, once a task has failed for the last time.
  std::function<void(const TaskDescriptor&, const TaskFailure&)> record_failure;
  // On the coordinator after each finished task: progress for people (stderr).
  std::function<void(std::size_t done, std::size_t failed, std::size_t total)> progress;
};

struct RankTime {
  double busy_seconds = 0.0;  // inside task functions and persist hooks
  // Idle while a task this rank could run was queued (a group's ranks waiting for each other to
  // start a whole-group task); in the rest of its idle time no task was left to give it.
  double waited_seconds = 0.0;
  std::size_t tasks = 0;
};

struct SweepReport {
  std::vector<std::optional<TaskResult>> results;  // by task position; empty unless done
  std::vector<TaskFailure> failed;                 // tasks that failed for the last time
  std::vector<TaskFailure> retried;                // failed attempts that were tried again
  std::size_t pending = 0;                         // not run because of a stop signal
  bool stopped = false;
  double seconds = 0.0;
  std::vector<RankTime> ranks;  // by rank of the communicator
};

// Collective over `comm`: rank `coordinator` hands out `tasks` (every rank passes the same list)
// and returns the full report; the other ranks serve tasks and return an empty report. With one
// rank, the coordinator runs every task itself, largest first.
SweepReport run_sweep(const std::vector<TaskDescriptor>& tasks, const TaskRegistry& registry,
                      const SweepHooks& hooks, int max_attempts, MPI_Comm comm, int coordinator = 0,
                      const WorkerGroups& groups = {});

}  // namespace acsweep::runtime
