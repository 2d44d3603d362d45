#pragma once
// The per-rank append-only journal: a result is written here and fsync'ed before the
// coordinator counts it done, so a killed job loses nothing that was reported done. One line
// per record, "<crc32 hex> <json>", values as the hex bits of each double (bit-identical after
// a resume). A torn last line (the record being written at the kill, never reported) is
// ignored; a bad record anywhere else is corruption and an error naming the file and line.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace acsweep::store {

struct JournalRecord {
  std::string status;  // "done" or "failed"
  std::uint64_t index = 0;
  std::string name;
  std::string hash;
  std::vector<double> values;
  std::map<std::string, std::vector<double>> per_sample;
  std::string message;  // why it failed
  int rank = 0;
  int segment = 0;
  double seconds = 0.0;
};

std::uint32_t crc32(const std::string& bytes);

class JournalWriter {
 public:
  explicit JournalWriter(const std::string& path);  // creates or appends
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;
  // Appends one record and fsyncs the file before returning.
  void append(const JournalRecord& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// A line of a journal that is no record: damaged on disk (its checksum fails) or not one at all.
struct CorruptRecord {
  std::string path;
  std::size_t line = 0;  // 1-based
  std::string why;
};

// Every record of the journal at `path`; a torn last line (the write a kill interrupted) is
// ignored. A corrupt line before the end is a StoreError naming the file and line and saying how
// to go on, unless `corrupt` is given: then it is listed there and skipped.
std::vector<JournalRecord> read_journal(const std::string& path,
                                        std::vector<CorruptRecord>* corrupt = nullptr);

// Rewrites the journal at `path` without the given lines (1-based), which are appended to
// `path`.corrupt for whoever wants to look; atomic (a new file renamed over the old one).
void set_aside_lines(const std::string& path, const std::vector<std::size_t>& lines);

}  // namespace acsweep::store
