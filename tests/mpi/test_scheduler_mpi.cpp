// The scheduler at any world size: every task ends exactly once, results come from the task's
// own function, retries are bounded (none after a FinalFailure), and failures carry the rank and
// the message.
#include <gtest/gtest.h>
#include <mpi.h>

#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "acsweep/error.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/runtime/scheduler.hpp"
#include "acsweep/runtime/signals.hpp"
#include "acsweep/runtime/world.hpp"

namespace acsweep::runtime {
namespace {

int world_rank() {
  int r = 0;
  check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &r), "MPI_Comm_rank");
  return r;
}

std::vector<TaskDescriptor> plan(std::size_t n, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int> micros(0, 3000);
  std::vector<TaskDescriptor> tasks(n);
  for (std::size_t i = 0; i < n; ++i) {
    tasks[i].index = i;
    tasks[i].kind = "square";
    tasks[i].name = "t" + std::to_string(i);
    tasks[i].inputs["x"] = std::to_string(i);
    tasks[i].inputs["sleep_us"] = std::to_string(micros(gen));
    tasks[i].cost = micros(gen);
  }
  return tasks;
}

TaskRegistry registry() {
  TaskRegistry r;
  r.add("square", [](const TaskDescriptor& t) {
    std::this_thread::sleep_for(std::chrono::microseconds(std::stoi(t.inputs.at("sleep_us"))));
    const double x = std::stod(t.inputs.at("x"));
    TaskResult result;
    result.values = {x * x, static_cast<double>(t.attempt)};
    return result;
  });
  r.add("flaky", [](const TaskDescriptor& t) {
    if (t.attempt < 2) throw std::runtime_error("flaky on attempt " + std::to_string(t.attempt));
    return TaskResult{0, {42.0}, {}, 0, 0};
  });
  r.add("broken",
        [](const TaskDescriptor&) -> TaskResult { throw std::runtime_error("broken input 'x.jpg'"); });
  r.add("diverges", [](const TaskDescriptor& t) -> TaskResult {
    throw FinalFailure("diverged on attempt " + std::to_string(t.attempt));
  });
  return r;
}

TEST(SchedulerMpi, EveryTaskExactlyOnceUnderRandomCosts) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    const auto tasks = plan(60, seed);
    std::vector<int> persisted(tasks.size(), 0);  // counted on the rank that computed
    SweepHooks hooks;
    hooks.persist = [&](const TaskDescriptor& t, const TaskResult&) { ++persisted[t.index]; };
    const SweepReport report = run_sweep(tasks, registry(), hooks, 3, MPI_COMM_WORLD);
    std::vector<int> total(persisted);
    all_reduce_sum(total, MPI_COMM_WORLD);
    for (std::size_t i = 0; i < tasks.size(); ++i) ASSERT_EQ(total[i], 1) << "task " << i << " seed " << seed;
    if (world_rank() != 0) continue;
    ASSERT_EQ(report.results.size(), tasks.size());
    std::size_t counted = 0;
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      ASSERT_TRUE(report.results[i].has_value()) << i;
      EXPECT_EQ(report.results[i]->values[0], double(i * i));
    }
    for (const auto& r : report.ranks) counted += r.tasks;
    EXPECT_EQ(counted, tasks.size());
    EXPECT_TRUE(report.failed.empty());
    EXPECT_EQ(report.pending, 0u);
  }
}

TEST(SchedulerMpi, FailuresAreRetriedThenRecordedAndTheSweepGoesOn) {
  auto tasks = plan(12, 9);
  tasks[3].kind = "flaky";
  tasks[7].kind = "broken";
  std::vector<std::string> recorded;
  SweepHooks hooks;
  hooks.record_failure = [&](const TaskDescriptor& t, const TaskFailure& f) {
    recorded.push_back(t.name + ": " + f.message);
  };
  const SweepReport report = run_sweep(tasks, registry(), hooks, 3, MPI_COMM_WORLD);
  if (world_rank() != 0) return;
  ASSERT_TRUE(report.results[3].has_value());  // succeeded on its second attempt
  EXPECT_EQ(report.results[3]->values[0], 42.0);
  EXPECT_FALSE(report.results[7].has_value());
  ASSERT_EQ(report.failed.size(), 1u);
  EXPECT_EQ(report.failed[0].name, "t7");
  EXPECT_EQ(report.failed[0].attempt, 3);
  EXPECT_EQ(report.failed[0].message, "broken input 'x.jpg'");
  EXPECT_EQ(recorded, (std::vector<std::string>{"t7: broken input 'x.jpg'"}));
  EXPECT_EQ(report.retried.size(), 1u + 2u);  // flaky once, broken twice
  for (std::size_t i = 0; i < tasks.size(); ++i)
    if (i != 7) {
      EXPECT_TRUE(report.results[i].has_value()) << i;
    }
}

TEST(SchedulerMpi, AFinalFailureIsRecordedAtOnceWithoutAnotherAttempt) {
  auto tasks = plan(12, 10);
  tasks[5].kind = "diverges";
  tasks[8].kind = "flaky";
  const SweepReport report = run_sweep(tasks, registry(), {}, 3, MPI_COMM_WORLD);
  if (world_rank() != 0) return;
  ASSERT_EQ(report.failed.size(), 1u);
  EXPECT_EQ(report.failed[0].name, "t5");
  EXPECT_EQ(report.failed[0].attempt, 1);
  EXPECT_TRUE(report.failed[0].final);
  EXPECT_EQ(report.failed[0].message, "diverged on attempt 1");
  ASSERT_EQ(report.retried.size(), 1u);  // the flaky one alone
  EXPECT_EQ(report.retried[0].name, "t8");
  EXPECT_FALSE(report.retried[0].final);
  EXPECT_TRUE(report.results[8].has_value());
}

TEST(SchedulerMpi, StopSignalLeavesTheRestPendingAndEndsCleanly) {
  const auto tasks = plan(40, 4);
  SweepHooks hooks;
  int finished = 0;
  hooks.progress = [&](std::size_t done, std::size_t, std::size_t) {
    if (done >= 5) request_stop();  // as if SIGUSR1 arrived mid-sweep
    finished = static_cast<int>(done);
  };
  const SweepReport report = run_sweep(tasks, registry(), hooks, 3, MPI_COMM_WORLD);
  request_stop(false);
  if (world_rank() != 0) return;
  EXPECT_TRUE(report.stopped);
  std::size_t done = 0;
  for (const auto& r : report.results) done += r.has_value();
  EXPECT_EQ(done + report.pending, tasks.size());
  EXPECT_GE(done, 5u);
  EXPECT_GT(report.pending, 0u);
  EXPECT_EQ(static_cast<int>(done), finished);
}

TEST(SchedulerMpi, WholeGroupTasksRunOnEveryRankOfOneGroupExactlyOnce) {
  int size = 1;
  check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
  // 5 ranks: 2 groups of 2; 4: 1 group of 2 and a scorer; 2: 1 group of 1; 1: everything in order.
  const Layout layout = size >= 5   ? Layout{2, 2}
                        : size >= 3 ? Layout{1, 2}
                        : size == 2 ? Layout{1, 1}
                                    : Layout{0, 1};
  const World world(layout, MPI_COMM_WORLD);
  WorkerGroups groups;
  for (const auto& role : world.roles()) groups.group_of_rank.push_back(role.group);
  if (world.group() != MPI_COMM_NULL) groups.this_rank_group = world.group();

  auto tasks = plan(30, 5);
  for (std::size_t i = 0; i < tasks.size(); i += 3) {
    tasks[i].kind = "group_sum";
    tasks[i].whole_group = true;
  }
  TaskRegistry r = registry();
  std::vector<int> took_part(tasks.size(), 0), persisted(tasks.size(), 0);
  r.add_group("group_sum", [&](const TaskDescriptor& t, MPI_Comm group) {
    ++took_part[t.index];
    int one = 1, members = 0;
    check_mpi(MPI_Allreduce(&one, &members, 1, MPI_INT, MPI_SUM, group), "MPI_Allreduce(group)");
    TaskResult result;
    result.values = {static_cast<double>(members)};
    return result;
  });
  SweepHooks hooks;
  hooks.persist = [&](const TaskDescriptor& t, const TaskResult&) { ++persisted[t.index]; };
  const SweepReport report = run_sweep(tasks, r, hooks, 3, MPI_COMM_WORLD, 0, groups);
  all_reduce_sum(took_part, MPI_COMM_WORLD);
  all_reduce_sum(persisted, MPI_COMM_WORLD);
  const int group_size = layout.groups > 0 && size > 1 ? layout.group_size : 1;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    EXPECT_EQ(persisted[i], 1) << "task " << i;  // reported (made durable) once, by group rank 0
    EXPECT_EQ(took_part[i], tasks[i].whole_group ? group_size : 0) << "task " << i;
  }
  if (world_rank() != 0) return;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    ASSERT_TRUE(report.results[i].has_value()) << i;
    if (tasks[i].whole_group) {
      EXPECT_EQ(report.results[i]->values[0], group_size) << i;
    }
  }
  EXPECT_TRUE(report.failed.empty());
  // Worker-group ranks took single-rank work too: nobody idles while work is pending.
  for (int rank = 1; rank < size; ++rank)
    EXPECT_GT(report.ranks[static_cast<std::size_t>(rank)].tasks, 0u) << rank;
}

TEST(SchedulerMpi, IdleTimeWithATaskWaitingIsCountedApart) {
  int size = 1;
  check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
  if (size < 3) GTEST_SKIP() << "needs a worker group of 2";
  // Ranks 1 and 2 form a group; rank 2 comes late, so rank 1 waits for it with the group's task
  // queued. Scorers cannot run a whole-group task: their idle time is not waiting.
  const World world(Layout{1, 2}, MPI_COMM_WORLD);
  WorkerGroups groups;
  for (const auto& role : world.roles()) groups.group_of_rank.push_back(role.group);
  if (world.group() != MPI_COMM_NULL) groups.this_rank_group = world.group();
  std::vector<TaskDescriptor> tasks(1);
  tasks[0].kind = "group_barrier";
  tasks[0].name = "g";
  tasks[0].whole_group = true;
  TaskRegistry r;
  r.add_group("group_barrier", [](const TaskDescriptor&, MPI_Comm group) {
    check_mpi(MPI_Barrier(group), "MPI_Barrier(group)");
    return TaskResult{};
  });
  constexpr double kLate = 0.3;
  if (world_rank() == 2) std::this_thread::sleep_for(std::chrono::duration<double>(kLate));
  const SweepReport report = run_sweep(tasks, r, SweepHooks{}, 1, MPI_COMM_WORLD, 0, groups);
  if (world_rank() != 0) return;
  ASSERT_TRUE(report.results[0].has_value());
  EXPECT_GE(report.ranks[1].waited_seconds, 0.8 * kLate);
  EXPECT_LT(report.ranks[2].waited_seconds, report.ranks[1].waited_seconds);
  for (std::size_t rank = 1; rank < report.ranks.size(); ++rank)
    EXPECT_LE(report.ranks[rank].waited_seconds, report.seconds - report.ranks[rank].busy_seconds + 1e-3)
        << rank;
  for (std::size_t rank = 3; rank < report.ranks.size(); ++rank)
    EXPECT_EQ(report.ranks[rank].waited_seconds, 0.0) << "scorer " << rank;
}

}  // namespace
}  // namespace acsweep::runtime
