// acsweep inspect RESULTS: what a results directory holds: its segments (complete, incomplete
// after a kill, unreadable) and every task of the latest plan as done, failed or pending; corrupt
// journal lines are listed.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "acsweep/cli/commands.hpp"
#include "acsweep/cli/options.hpp"
#include "acsweep/runtime/mpi.hpp"
#include "acsweep/store/run_store.hpp"

namespace po = boost::program_options;

namespace acsweep::cli {
namespace {

struct SegmentState {
  int segment = 0;
  std::string path, state;  // complete, stopped, incomplete, unreadable, missing
  std::vector<std::string> hashes;
  std::vector<double> status;  // store::TaskStatus per row
};

SegmentState read_segment(const std::string& dir, int segment) {
  SegmentState s{segment, store::segment_path(dir, segment), "missing", {}, {}};
  if (!std::filesystem::exists(s.path)) return s;
  try {
    store::H5File file = store::H5File::open_read_only(s.path);
    s.hashes = file.open_group("tasks").read_strings("hash");
    s.status = file.open_group("tasks").read_doubles("status");
    s.state = store::segment_state(s.path);
  } catch (const store::StoreError&) {
    s.state = "unreadable";
  }
  return s;
}

}  // namespace

int run_inspect(const std::vector<std::string>& args, const CommandContext& context) {
  po::options_description options("acsweep inspect options");
  options.add_options()("json", po::bool_switch(), "print one JSON document on stdout");
  po::variables_map vm;
  if (!parse_command("inspect", "acsweep inspect RESULTS_DIR [--json]", options, args, vm, "RESULTS_DIR"))
    return 0;
  if (context.mpi.rank() != 0) return 0;
  const std::string dir = vm["table"].as<std::string>();
  const std::string job = store::RunDirectory::job_of(dir);
  const store::RunDirectory run(dir, job);

  std::vector<SegmentState> segments;
  for (int s = 1; s <= run.last_segment(); ++s) segments.push_back(read_segment(dir, s));
  std::map<std::string, store::JournalRecord> latest;  // newest record per task hash
  std::vector<store::CorruptRecord> corrupt;           // reported, not fatal: inspecting changes nothing
  for (auto& record : run.journal_records(&corrupt)) {
    auto& slot = latest[record.hash];
    if (record.status == "done" || slot.status != "done") slot = std::move(record);
  }
  // The plan: the newest segment whose task list could be read.
  const std::vector<std::string>* plan = nullptr;
  const SegmentState* newest = nullptr;
  for (auto it = segments.rbegin(); it != segments.rend() && !plan; ++it)
    if (it->state != "unreadable" && it->state != "missing") {
      plan = &it->hashes;
      newest = &*it;
    }
  std::size_t done = 0, failed = 0, pending = 0, not_needed = 0;
  nlohmann::ordered_json failures = nlohmann::ordered_json::array();
  if (plan)
    for (std::size_t row = 0; row < plan->size(); ++row) {
      const auto& hash = (*plan)[row];
      const auto it = latest.find(hash);
      if (it == latest.end()) {
        const bool settled = row < newest->status.size() &&
                             newest->status[row] == static_cast<double>(store::TaskStatus::NotNeeded);
        ++(settled ? not_needed : pending);
      } else if (it->second.status == "done") {
        ++done;
      } else {
        ++failed;
        failures.push_back(
            {{"task", it->second.name}, {"rank", it->second.rank}, {"message", it->second.message}});
      }
    }

  if (vm["json"].as<bool>()) {
    nlohmann::ordered_json doc;
    doc["job"] = job;
    doc["directory"] = dir;
    doc["segments"] = nlohmann::ordered_json::array();
    for (const auto& s : segments)
      doc["segments"].push_back({{"segment", s.segment}, {"path", s.path}, {"state", s.state}});
    doc["tasks"] = {{"total", plan ? plan->size() : 0},
                    {"done", done},
                    {"failed", failed},
                    {"pending", pending},
                    {"not_needed", not_needed}};
    doc["failures"] = failures;
    doc["corrupt_journal_lines"] = nlohmann::ordered_json::array();
    for (const auto& bad : corrupt)
      doc["corrupt_journal_lines"].push_back({{"path", bad.path}, {"line", bad.line}, {"why", bad.why}});
    std::cout << doc.dump(2) << "\n";
    return 0;
  }
  std::printf("job '%s' in %s\n", job.c_str(), dir.c_str());
  for (const auto& s : segments)
    std::printf("  segment %d: %s (%s)\n", s.segment, s.state.c_str(), s.path.c_str());
  for (const auto& bad : corrupt)
    std::printf(
        "  corrupt journal line: %s, line %zu: %s (acsweep run --recompute-corrupt computes its task "
        "again)\n",
        bad.path.c_str(), bad.line, bad.why.c_str());
  if (!plan) {
    std::printf("no readable segment: run the job again to rebuild one from the journals\n");
    return 0;
  }
  std::printf("tasks: %zu in the plan: %zu done, %zu failed, %zu pending", plan->size(), done, failed,
              pending);
  if (not_needed > 0) std::printf(", %zu not needed (finetunes the policy did not pick)", not_needed);
  std::printf("\n");
  for (const auto& f : failures)
    std::printf("  failed: %s on rank %d: %s\n", f["task"].get<std::string>().c_str(), f["rank"].get<int>(),
                f["message"].get<std::string>().c_str());
  return 0;
}

}  // namespace acsweep::cli
