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

std::vector<JournalRecord> read_journal(const std::string& path);

}  // namespace acsweep::store
