#include "acsweep/runtime/scheduler.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <stdexcept>
#include <thread>

#include "acsweep/runtime/point_to_point.hpp"
#include "acsweep/runtime/signals.hpp"

namespace acsweep::runtime {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Runs one task and its persist hook; any exception becomes the failure's message.
std::optional<TaskResult> execute(const TaskDescriptor& task, const TaskRegistry& registry,
                                  const SweepHooks& hooks, int rank, std::string& error) {
  const auto start = Clock::now();
  try {
    TaskResult result = registry.run(task);
    result.index = task.index;
    result.rank = rank;
    result.seconds = since(start);
    if (hooks.persist) hooks.persist(task, result);
    return result;
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown exception";
  }
  return std::nullopt;
}

// Largest estimated cost first; ties in plan order, so every rank count hands out alike.
std::deque<std::size_t> cost_order(const std::vector<TaskDescriptor>& tasks) {
  std::vector<std::size_t> order(tasks.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return tasks[a].cost > tasks[b].cost; });
  return {order.begin(), order.end()};
}

class Coordinator {
 public:
  Coordinator(const std::vector<TaskDescriptor>& tasks, const SweepHooks& hooks, int max_attempts, int ranks)
      : tasks_(tasks), hooks_(hooks), max_attempts_(max_attempts), attempt_(tasks.size(), 1) {
    report_.results.resize(tasks.size());
    report_.ranks.resize(static_cast<std::size_t>(ranks));
    queue_ = cost_order(tasks);
  }

  // A result or failure of task `index` came back.
  void finished(std::size_t index, std::optional<TaskResult> result, const std::string& error, int rank) {
    if (report_.results[index] || closed_[index])
      throw std::logic_error("task " + tasks_[index].name + " reported twice");
    RankTime& time = report_.ranks[static_cast<std::size_t>(rank)];
    ++time.tasks;
    if (result) {
      time.busy_seconds += result->seconds;
      report_.results[index] = std::move(result);
      closed_[index] = true;
      ++done_;
    } else {
      TaskFailure failure{tasks_[index].index, tasks_[index].name, error, rank, attempt_[index]};
      if (attempt_[index] < max_attempts_) {
        ++attempt_[index];
        report_.retried.push_back(failure);
        queue_.push_front(index);
      } else {
        closed_[index] = true;
        report_.failed.push_back(failure);
        if (hooks_.record_failure) hooks_.record_failure(tasks_[index], failure);
      }
    }
    if (hooks_.progress) hooks_.progress(done_, report_.failed.size(), tasks_.size());
  }

  bool has_work() const { return !queue_.empty() && !report_.stopped; }
  std::size_t next() {
    const std::size_t index = queue_.front();
    queue_.pop_front();
    return index;
  }
  TaskDescriptor descriptor(std::size_t index) const {
    TaskDescriptor task = tasks_[index];
    task.attempt = attempt_[index];
    return task;
  }
  void check_stop() {
    if (!report_.stopped && stop_requested()) report_.stopped = true;
  }
  SweepReport finish(double seconds) {
    report_.pending = static_cast<std::size_t>(std::count(closed_.begin(), closed_.end(), false));
    report_.seconds = seconds;
    return std::move(report_);
  }

 private:
  const std::vector<TaskDescriptor>& tasks_;
  const SweepHooks& hooks_;
  int max_attempts_;
  std::vector<int> attempt_;
  std::vector<bool> closed_ = std::vector<bool>(tasks_.size(), false);
  std::deque<std::size_t> queue_;
  std::size_t done_ = 0;
  SweepReport report_;
};

void serve(const TaskRegistry& registry, const SweepHooks& hooks, MPI_Comm comm, int coordinator, int rank) {
  send_signal(coordinator, kReady, comm);
  while (true) {
    const MPI_Status status = probe(coordinator, MPI_ANY_TAG, comm);
    if (status.MPI_TAG == kStop) {
      receive_signal(status, comm);
      return;
    }
    const auto task = receive_object<TaskDescriptor>(status, comm);
    std::string error;
    if (auto result = execute(task, registry, hooks, rank, error))
      send_object(*result, coordinator, kResult, comm);
    else
      send_object(TaskFailure{task.index, task.name, error, rank, task.attempt}, coordinator, kFailure, comm);
  }
}

}  // namespace

void TaskRegistry::add(const std::string& kind, TaskFunction function) {
  functions_[kind] = std::move(function);
}

TaskResult TaskRegistry::run(const TaskDescriptor& task) const {
  const auto it = functions_.find(task.kind);
  if (it == functions_.end()) throw std::runtime_error("no task kind '" + task.kind + "' on this rank");
  return it->second(task);
}

SweepReport run_sweep(const std::vector<TaskDescriptor>& tasks, const TaskRegistry& registry,
                      const SweepHooks& hooks, int max_attempts, MPI_Comm comm, int coordinator) {
  int rank = 0, size = 1;
  check_mpi(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  if (rank != coordinator) {
    serve(registry, hooks, comm, coordinator, rank);
    return {};
  }

  const auto start = Clock::now();
  Coordinator plan(tasks, hooks, max_attempts, size);
  if (size == 1) {
    while (plan.check_stop(), plan.has_work()) {
      const std::size_t index = plan.next();
      std::string error;
      auto result = execute(plan.descriptor(index), registry, hooks, rank, error);
      plan.finished(index, std::move(result), error, rank);
    }
    return plan.finish(since(start));
  }

  std::vector<int> idle;
  std::map<int, std::size_t> running;  // rank -> task
  int stopped_ranks = 0;
  long quiet_polls = 0;
  while (stopped_ranks < size - 1) {
    plan.check_stop();
    while (!idle.empty() && plan.has_work()) {
      const std::size_t index = plan.next();
      send_object(plan.descriptor(index), idle.back(), kTask, comm);
      running[idle.back()] = index;
      idle.pop_back();
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
    } else if (status.MPI_TAG == kResult) {
      auto result = receive_object<TaskResult>(status, comm);
      plan.finished(running.at(source), std::move(result), "", source);
      running.erase(source);
    } else if (status.MPI_TAG == kFailure) {
      const auto failure = receive_object<TaskFailure>(status, comm);
      plan.finished(running.at(source), std::nullopt, failure.message, source);
      running.erase(source);
    } else {
      throw std::runtime_error("unexpected message tag " + std::to_string(status.MPI_TAG) + " from rank " +
                               std::to_string(source));
    }
    idle.push_back(source);
  }
  return plan.finish(since(start));
}

}  // namespace acsweep::runtime
