#include "acsweep/runtime/scheduler.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <set>
#include <stdexcept>
#include <thread>

#include "acsweep/error.hpp"
#include "acsweep/runtime/point_to_point.hpp"
#include "acsweep/runtime/signals.hpp"

namespace acsweep::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

int rank_in(MPI_Comm comm) {
  int rank = 0;
  check_mpi(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  return rank;
}

// Why a task failed, and whether another attempt would only repeat it.
struct Failure {
  std::string message;
  bool final = false;
};

// Runs one task, then, where this rank reports for it, its persist hook. Any exception of the task
// becomes the failure's message. The persist hook's do not: a result computed but not recorded
// (a journal on a full disk) is no task failure to try again on a rank that can record nothing,
// so they end the rank, and with it the job (cli/dispatch.cpp); the rerun computes the task again.
std::optional<TaskResult> execute(const TaskDescriptor& task, const TaskRegistry& registry,
                                  const SweepHooks& hooks, int rank, MPI_Comm group, Failure& error) {
  const auto start = Clock::now();
  TaskResult result;
  try {
    result = registry.run(task, group);
  } catch (const FinalFailure& e) {
    error = {e.what(), true};
    return std::nullopt;
  } catch (const std::exception& e) {
    error = {e.what(), false};
    return std::nullopt;
  } catch (...) {
    error = {"unknown exception", false};
    return std::nullopt;
  }
  result.index = task.index;
  result.rank = rank;
  result.seconds = since(start);
  const bool reports = !task.whole_group || rank_in(group) == 0;
  if (reports && hooks.persist) hooks.persist(task, result);
  return result;
}

// The coordinator's book: what waits (largest estimated cost first, single-rank and whole-group
// tasks apart), what runs where, and how every task ended. Every task ends exactly once.
class Plan {
 public:
  Plan(const std::vector<TaskDescriptor>& tasks, const SweepHooks& hooks, int max_attempts, int ranks)
      : tasks_(tasks),
        hooks_(hooks),
        max_attempts_(max_attempts),
        attempt_(tasks.size(), 1),
        closed_(tasks.size(), false) {
    report_.results.resize(tasks.size());
    report_.ranks.resize(static_cast<std::size_t>(ranks));
    std::vector<std::size_t> order(tasks.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    // Ties in plan order, so every rank count hands out alike.
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return tasks[a].cost > tasks[b].cost; });
    for (std::size_t i : order) (tasks[i].whole_group ? group_queue_ : single_queue_).push_back(i);
  }

  void finished(std::size_t position, std::optional<TaskResult> result, const Failure& error, int rank) {
    if (report_.results[position] || closed_[position])
      throw std::logic_error("task " + tasks_[position].name + " reported twice");
    if (result) {
      report_.results[position] = std::move(result);
      closed_[position] = true;
      ++done_;
    } else {
      TaskFailure failure{tasks_[position].index, tasks_[position].name,
                          error.message,          rank,
                          attempt_[position],     error.final};
      if (attempt_[position] < max_attempts_ && !error.final) {
        ++attempt_[position];
        report_.retried.push_back(failure);
        (tasks_[position].whole_group ? group_queue_ : single_queue_).push_front(position);
      } else {
        closed_[position] = true;
        report_.failed.push_back(failure);
        if (hooks_.record_failure) hooks_.record_failure(tasks_[position], failure);
      }
    }
    if (hooks_.progress) hooks_.progress(done_, report_.failed.size(), tasks_.size());
  }

  void waited(int rank, double seconds) {
    report_.ranks[static_cast<std::size_t>(rank)].waited_seconds += seconds;
  }

  void busy(int rank, double seconds) {
    RankTime& time = report_.ranks[static_cast<std::size_t>(rank)];
    time.busy_seconds += seconds;
    ++time.tasks;
  }

  bool stopped() {
    if (!report_.stopped && stop_requested()) report_.stopped = true;
    return report_.stopped;
  }
  bool has_single() { return !stopped() && !single_queue_.empty(); }
  bool has_group() { return !stopped() && !group_queue_.empty(); }
  bool has_work() { return has_single() || has_group(); }
  std::size_t take_single() { return take(single_queue_); }
  std::size_t take_group() { return take(group_queue_); }
  // Without worker groups, a whole-group task is one rank's work (a group of one).
  std::size_t take_any() { return !single_queue_.empty() ? take(single_queue_) : take(group_queue_); }

  TaskDescriptor descriptor(std::size_t position) const {
    TaskDescriptor task = tasks_[position];
    task.attempt = attempt_[position];
    return task;
  }
  SweepReport finish(double seconds) {
    report_.pending = static_cast<std::size_t>(std::count(closed_.begin(), closed_.end(), false));
    report_.seconds = seconds;
    return std::move(report_);
  }

 private:
  static std::size_t take(std::deque<std::size_t>& queue) {
    const std::size_t position = queue.front();
    queue.pop_front();
    return position;
  }

  const std::vector<TaskDescriptor>& tasks_;
  const SweepHooks& hooks_;
  int max_attempts_;
  std::vector<int> attempt_;
  std::vector<bool> closed_;
  std::deque<std::size_t> single_queue_, group_queue_;
  std::size_t done_ = 0;
  SweepReport report_;
};

void serve(const TaskRegistry& registry, const SweepHooks& hooks, MPI_Comm comm, int coordinator, int rank,
           MPI_Comm group) {
  send_signal(coordinator, kReady, comm);
  while (true) {
    const MPI_Status status = probe(coordinator, MPI_ANY_TAG, comm);
    if (status.MPI_TAG == kStop) {
      receive_signal(status, comm);
      return;
    }
    const auto task = receive_object<TaskDescriptor>(status, comm);
    Failure error;
    if (auto result = execute(task, registry, hooks, rank, task.whole_group ? group : MPI_COMM_SELF, error))
      send_object(*result, coordinator, kResult, comm);
    else
      send_object(TaskFailure{task.index, task.name, error.message, rank, task.attempt, error.final},
                  coordinator, kFailure, comm);
  }
}

// A whole-group task in flight: it ends when every member has answered.
struct GroupRun {
  std::size_t outstanding = 0;
  std::optional<TaskResult> leader_result;  // from group rank 0
  Failure error;                            // the first member's to fail
  int error_rank = -1;
};

}  // namespace

void TaskRegistry::add(const std::string& kind, TaskFunction function) {
  functions_[kind] = std::move(function);
}

void TaskRegistry::add_group(const std::string& kind, GroupTaskFunction function) {
  group_functions_[kind] = std::move(function);
}

TaskResult TaskRegistry::run(const TaskDescriptor& task, MPI_Comm group) const {
  if (task.whole_group) {
    const auto it = group_functions_.find(task.kind);
    if (it == group_functions_.end())
      throw std::runtime_error("no whole-group task kind '" + task.kind + "'");
    return it->second(task, group);
  }
  const auto it = functions_.find(task.kind);
  if (it == functions_.end()) throw std::runtime_error("no task kind '" + task.kind + "' on this rank");
  return it->second(task);
}

SweepReport run_sweep(const std::vector<TaskDescriptor>& tasks, const TaskRegistry& registry,
                      const SweepHooks& hooks, int max_attempts, MPI_Comm comm, int coordinator,
                      const WorkerGroups& groups) {
  const int rank = rank_in(comm);
  int size = 1;
  check_mpi(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  if (rank != coordinator) {
    serve(registry, hooks, comm, coordinator, rank, groups.this_rank_group);
    return {};
  }

  const auto start = Clock::now();
  Plan plan(tasks, hooks, max_attempts, size);
  if (size == 1) {  // one process runs everything in order, whole-group tasks as a group of one
    while (plan.has_work()) {
      const std::size_t position = plan.take_any();
      Failure error;
      auto result = execute(plan.descriptor(position), registry, hooks, rank, MPI_COMM_SELF, error);
      plan.busy(rank, result ? result->seconds : 0.0);
      plan.finished(position, std::move(result), error, rank);
    }
    return plan.finish(since(start));
  }

  // Members of each worker group, by rank of `comm`.
  std::map<int, std::vector<int>> members;
  for (int r = 0; r < static_cast<int>(groups.group_of_rank.size()); ++r)
    if (groups.group_of_rank[static_cast<std::size_t>(r)] >= 0 && r != coordinator)
      members[groups.group_of_rank[static_cast<std::size_t>(r)]].push_back(r);
  auto group_of = [&](int r) {
    return r < static_cast<int>(groups.group_of_rank.size())
               ? groups.group_of_rank[static_cast<std::size_t>(r)]
               : -1;
  };

  std::set<int> idle;
  std::map<int, Clock::time_point> idle_counted;  // idle rank -> until when its idle time is counted
  std::map<int, std::size_t> running;             // rank -> task position
  std::map<std::size_t, GroupRun> group_runs;
  int stopped_ranks = 0;
  long quiet_polls = 0;
  while (stopped_ranks < size - 1) {
    // Whole-group tasks first, to any group whose every member is idle.
    for (auto& [group, ranks] : members) {
      if (!plan.has_group()) break;
      if (!std::all_of(ranks.begin(), ranks.end(), [&](int r) { return idle.count(r) > 0; })) continue;
      const std::size_t position = plan.take_group();
      const TaskDescriptor task = plan.descriptor(position);
      for (int r : ranks) {
        send_object(task, r, kTask, comm);
        running[r] = position;
        idle.erase(r);
      }
      group_runs[position] = GroupRun{ranks.size(), std::nullopt, {}, -1};
    }
    // Then single-rank work; a group's ranks are held back while a whole-group task waits.
    for (auto it = idle.begin(); it != idle.end();) {
      const bool held = plan.has_group() && group_of(*it) >= 0;
      const bool groupless_group_task = members.empty() && plan.has_group();
      if (held || !(plan.has_single() || groupless_group_task)) {
        ++it;
        continue;
      }
      const std::size_t position = members.empty() ? plan.take_any() : plan.take_single();
      send_object(plan.descriptor(position), *it, kTask, comm);
      running[*it] = position;
      it = idle.erase(it);
    }
    // Idle ranks for which a task waits (a group's ranks for a whole-group task) are waiting.
    const auto now = Clock::now();
    for (int r : idle) {
      const bool queued = plan.has_single() || (plan.has_group() && (group_of(r) >= 0 || members.empty()));
      if (queued) plan.waited(r, std::chrono::duration<double>(now - idle_counted[r]).count());
      idle_counted[r] = now;
    }
    if (!plan.has_work() && running.empty()) {  // nothing left to hand out or wait for
      for (int r : idle) send_signal(r, kStop, comm);
      stopped_ranks += static_cast<int>(idle.size());
      idle.clear();
      if (stopped_ranks == size - 1) break;
    }

    MPI_Status status;
    if (!poll(MPI_ANY_SOURCE, MPI_ANY_TAG, comm, status)) {
      // Not a blocking probe: a stop signal must still be noticed. Yield first (a reply usually
      // comes within microseconds, and a yield leaves the core to ranks sharing it), then sleep.
      if (++quiet_polls < 20000)
        std::this_thread::yield();
      else
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    quiet_polls = 0;
    const int source = status.MPI_SOURCE;
    if (status.MPI_TAG == kReady) {
      receive_signal(status, comm);
      idle.insert(source);
      idle_counted[source] = Clock::now();
      continue;
    }
    std::optional<TaskResult> result;
    Failure error;
    if (status.MPI_TAG == kResult) {
      result = receive_object<TaskResult>(status, comm);
    } else if (status.MPI_TAG == kFailure) {
      const auto failure = receive_object<TaskFailure>(status, comm);
      error = {failure.message, failure.final};
    } else {
      throw std::runtime_error("unexpected message tag " + std::to_string(status.MPI_TAG) + " from rank " +
                               std::to_string(source));
    }
    const std::size_t position = running.at(source);
    running.erase(source);
    idle.insert(source);
    idle_counted[source] = Clock::now();
    plan.busy(source, result ? result->seconds : 0.0);
    const auto group_run = group_runs.find(position);
    if (group_run == group_runs.end()) {
      plan.finished(position, std::move(result), error, source);
      continue;
    }
    GroupRun& run = group_run->second;
    if (!result && run.error_rank < 0) {
      run.error = error;
      run.error_rank = source;
    }
    if (result && source == members.at(group_of(source)).front()) run.leader_result = std::move(result);
    if (--run.outstanding > 0) continue;
    if (run.error_rank >= 0)
      plan.finished(position, std::nullopt, run.error, run.error_rank);
    else
      plan.finished(position, std::move(run.leader_result), {}, members.at(group_of(source)).front());
    group_runs.erase(group_run);
  }
  return plan.finish(since(start));
}

}  // namespace acsweep::runtime
