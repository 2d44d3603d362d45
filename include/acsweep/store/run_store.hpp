#pragma once
// The results of one job (shared/spec/ARCHITECTURE.md, "Results"): a directory holding
//   run.json                               which job it belongs to
//   segments/segment-NNNN.h5               one parallel-HDF5 file per run segment (invocation)
//   journal/segment-NNNN/rank-RRRRR.jsonl  per-rank append-only journals
// The journals are the record of what is done: a resumed run reads them, skips tasks whose
// content hash is unchanged, and writes every result (old and new) into its own new segment.
// A segment is marked complete only when its run ended cleanly; an incomplete one (a killed
// run) is never read as if it were whole.
#include <mpi.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "acsweep/runtime/messages.hpp"
#include "acsweep/store/hdf5.hpp"
#include "acsweep/store/journal.hpp"

namespace acsweep::store {

// NotNeeded: the run ended without needing the task (a finetune the AC policy did not pick).
enum class TaskStatus : std::int8_t { Pending = 0, Done = 1, Failed = 2, NotNeeded = 3 };

// Where things live in a results directory; every rank can compute them.
std::string segment_path(const std::string& dir, int segment);
std::string journal_dir(const std::string& dir, int segment);
std::string journal_path(const std::string& dir, int segment, int rank);

class RunDirectory {
 public:
  // The job a results directory belongs to; InputError when `dir` is not a results directory.
  static std::string job_of(const std::string& dir);

  // Opens `dir`, creating it for `job_name` if new. A directory of another job is an InputError.
  RunDirectory(const std::string& dir, const std::string& job_name);

  const std::string& dir() const { return dir_; }
  int last_segment() const;  // 0 when none
  // Creates the journal folder of a new segment.
  void start_segment(int segment) const;
  // Every journal record, oldest segment first. A corrupt line is a StoreError saying how to go
  // on, or, with `corrupt`, listed there and skipped (read_journal).
  std::vector<JournalRecord> journal_records(std::vector<CorruptRecord>* corrupt = nullptr) const;
  // The newest "done" record of each task hash.
  std::map<std::string, JournalRecord> done_by_hash(std::vector<CorruptRecord>* corrupt = nullptr) const;

 private:
  std::string dir_;
};

// Holds `dir`/run.lock for the life of a run (an fcntl lock, which the kernel drops when the process
// dies, so none is ever stale), so that a second run on the same results directory is refused
// instead of running every task again. InputError naming the directory and the holder (its
// host, pid and start) when another process holds it. On a filesystem without locks it says so on
// stderr and goes on unlocked.
class RunLock {
 public:
  explicit RunLock(const std::string& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

struct SegmentInfo {
  int segment = 0;
  std::string job;
  std::string job_text;
  std::uint64_t seed = 0;
  int world_size = 1;
};

// The bytes a segment of `tasks` rows takes when it is created: every column is allocated then
// (parallel writes need it), so this is known before any work. Strings and HDF5's own structures
// aside, which are small beside the value columns.
std::uint64_t segment_bytes(std::size_t tasks, std::size_t width,
                            const std::map<std::string, std::size_t>& sample_widths);

// The bytes an unprivileged writer may still write on the filesystem that holds `dir` (statvfs);
// StoreError naming `dir` when it cannot be asked.
std::uint64_t free_bytes(const std::string& dir);

// One run segment's HDF5 file, opened by every rank of `comm` (collective open, create, close;
// independent row writes). /tasks/{name, hash, kind, status, values, seconds, rank, segment}:
// one row per task of the plan, created up front with fixed shapes, NaN or -1 filled; and
// /tasks/per_sample/<name> [tasks, width] for each per-sample series the plan declares (per-caption
// log-likelihoods, per-keypoint correctness), shorter series padded with NaN.
class SegmentFile {
 public:
  SegmentFile(const std::string& path, MPI_Comm comm, const std::vector<runtime::TaskDescriptor>& plan,
              std::size_t width, const SegmentInfo& info,
              const std::map<std::string, std::size_t>& sample_widths = {});
  ~SegmentFile();
  SegmentFile(const SegmentFile&) = delete;
  SegmentFile& operator=(const SegmentFile&) = delete;

  // Independent: the computing rank writes its row.
  void record_done(std::uint64_t row, const std::vector<double>& values, double seconds, int rank,
                   int segment, const std::map<std::string, std::vector<double>>& per_sample = {});
  void record_failed(std::uint64_t row, int rank);
  void record_not_needed(std::uint64_t row) { write_status(row, TaskStatus::NotNeeded); }
  // Collective.
  void flush();
  void close();

 private:
  void write_status(std::uint64_t row, TaskStatus status);
  std::string path_;
  std::size_t width_;
  std::unique_ptr<H5File> file_;
  std::unique_ptr<H5Dataset> status_, values_, seconds_, rank_, segment_;
  std::map<std::string, std::pair<std::size_t, std::unique_ptr<H5Dataset>>> per_sample_;  // width, dataset
};

// Marks a closed segment (rank 0, serial): complete after its summary is written; stopped when a
// signal ended the run early.
void mark_segment_complete(H5File& file);
void mark_segment_stopped(H5File& file);
// "complete", "stopped", "incomplete" (the run died: a kill, a crash) or "unreadable".
std::string segment_state(const std::string& path);

}  // namespace acsweep::store
