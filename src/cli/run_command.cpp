// acsweep run JOB.ini: the job on every rank of the MPI world (shared/spec/ARCHITECTURE.md). Read
// the job, lay out the world, plan it (or print the plan and stop), run it (sweep/run.hpp: its
// segment, its phases, its summary) and say how it ended. Running the same job again continues it.
#include <cstdio>
#include <iostream>

#include "acsweep/cli/commands.hpp"
#include "acsweep/cli/options.hpp"
#include "acsweep/cli/plan_output.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/runtime/signals.hpp"
#include "acsweep/runtime/world.hpp"
#include "acsweep/sweep/job_plan.hpp"
#include "acsweep/sweep/run.hpp"

namespace po = boost::program_options;

namespace acsweep::cli {
namespace {

constexpr const char* kUsage =
    "acsweep run JOB.ini [--dry-run] [--set section.key=value ...] [--recompute-corrupt]";
constexpr int kExitSomeFailed = 3;

}  // namespace

int run_run(const std::vector<std::string>& args, const CommandContext& context) {
  po::options_description options("acsweep run options");
  options.add_options()("dry-run", po::bool_switch(), "print the plan and exit")(
      "json", po::bool_switch(), "with --dry-run: the memory plan as JSON on stdout")(
      "set", po::value<std::vector<std::string>>()->composing(), "override a job key: section.key=value")(
      "recompute-corrupt", po::bool_switch(),
      "set corrupt journal lines aside (in <journal>.corrupt) and compute their tasks again");
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
  // Every rank plans the memory alike, from the configs alone, before any work.
  const sweep::JobMemory memory = sweep::plan_memory(job, world.layout().group_size);
  if (dry_run && vm["json"].as<bool>()) {
    if (world.rank() == 0) print_memory_json(memory);
    sweep::check_memory(memory, job, world.layout().group_size);
    return 0;
  }
  if (dry_run && !job.missing.empty()) {
    if (world.rank() == 0) {
      print_job(job, world);
      print_plan_without_inputs(job);
      print_memory_plan(memory);
    }
    sweep::check_memory(memory, job, world.layout().group_size);
    return 0;
  }
  if (!dry_run)
    sweep::check_memory(memory, job, world.layout().group_size);  // a job that cannot fit does no work
  const sweep::JobPlan plan =
      sweep::plan_job(job, world);  // rank 0 checks the images, the rest take its list
  if (dry_run) {
    if (world.rank() == 0) {
      print_job(job, world);
      print_plan(plan, job);
      print_memory_plan(memory);
    }
    sweep::check_memory(memory, job, world.layout().group_size);
    return 0;
  }
  runtime::install_stop_handlers();
  const sweep::RunReport report = sweep::run_job(job, world, plan, {vm["recompute-corrupt"].as<bool>()});

  if (world.rank() != 0) return 0;
  switch (report.ending) {
    case sweep::RunEnding::stopped:
      std::fprintf(
          stderr,
          "acsweep: stopped by a signal: %zu task(s) pending; run the same command again to continue\n",
          report.pending);
      return 0;
    case sweep::RunEnding::some_failed:
      std::fprintf(stderr, "acsweep: %zu task(s) failed; the results of the others are in %s\n",
                   report.failed, report.segment.c_str());
      return kExitSomeFailed;
    case sweep::RunEnding::complete:
      break;
  }
  std::fprintf(stderr, "acsweep: sweep took %.2f s; results in %s\n", report.seconds, report.segment.c_str());
  report.times.print(report.seconds);
  return 0;
}

}  // namespace acsweep::cli
