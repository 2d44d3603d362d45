#include "acsweep/store/run_store.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "acsweep/error.hpp"
#include "acsweep/store/timestamp.hpp"

namespace acsweep::store {
namespace fs = std::filesystem;
namespace {

std::string numbered(const char* prefix, int n, int width) {
  char text[32];
  std::snprintf(text, sizeof text, "%s%0*d", prefix, width, n);
  return text;
}

template <class T>
H5Dataset column(H5Location& group, const std::string& name, hid_t type, std::vector<hsize_t> dims, T fill) {
  return H5Dataset::create(group, name, type, dims, &fill);
}

}  // namespace

std::string segment_path(const std::string& dir, int segment) {
  return (fs::path(dir) / "segments" / (numbered("segment-", segment, 4) + ".h5")).string();
}

std::string journal_dir(const std::string& dir, int segment) {
  return (fs::path(dir) / "journal" / numbered("segment-", segment, 4)).string();
}

std::string journal_path(const std::string& dir, int segment, int rank) {
  return (fs::path(journal_dir(dir, segment)) / (numbered("rank-", rank, 5) + ".jsonl")).string();
}

std::string RunDirectory::job_of(const std::string& dir) {
  const fs::path marker = fs::path(dir) / "run.json";
  if (!fs::exists(marker)) throw InputError(dir + ": not an acsweep results directory (no run.json)");
  try {
    std::ifstream in(marker);
    return nlohmann::json::parse(in).at("job").get<std::string>();
  } catch (const std::exception& e) {
    throw StoreError(marker.string() + ": unreadable: " + e.what());
  }
}

RunDirectory::RunDirectory(const std::string& dir, const std::string& job_name) : dir_(dir) {
  const fs::path marker = fs::path(dir) / "run.json";
  std::error_code ec;
  if (fs::exists(marker)) {
    const std::string owner = job_of(dir);
    if (owner != job_name)
      throw InputError("results directory " + dir + " belongs to job '" + owner + "', not '" + job_name +
                       "': give this job another [job] output, or remove the directory");
    return;
  }
  if (fs::exists(dir) && !fs::is_empty(dir, ec))
    throw InputError("results directory " + dir + " is not empty and holds no run.json: not an acsweep run");
  fs::create_directories(fs::path(dir) / "segments", ec);
  if (ec) throw StoreError("cannot create results directory " + dir + ": " + ec.message());
  fs::create_directories(fs::path(dir) / "journal", ec);
  const std::string temporary = marker.string() + ".tmp";
  {
    std::ofstream out(temporary);
    out << nlohmann::json{{"job", job_name}, {"created", utc_timestamp()}, {"format", 1}}.dump(2) << "\n";
    if (!out) throw StoreError(temporary + ": cannot write");
  }
  fs::rename(temporary, marker, ec);
  if (ec) throw StoreError("cannot create " + marker.string() + ": " + ec.message());
}

int RunDirectory::last_segment() const {
  int last = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(dir_) / "journal", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("segment-", 0) == 0) last = std::max(last, std::atoi(name.c_str() + 8));
  }
  return last;
}

void RunDirectory::start_segment(int segment) const {
  std::error_code ec;
  fs::create_directories(journal_dir(dir_, segment), ec);
  if (ec) throw StoreError("cannot create " + journal_dir(dir_, segment) + ": " + ec.message());
}

std::vector<JournalRecord> RunDirectory::journal_records(std::vector<CorruptRecord>* corrupt) const {
  std::vector<JournalRecord> records;
  for (int segment = 1; segment <= last_segment(); ++segment) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(journal_dir(dir_, segment), ec))
      if (entry.path().extension() == ".jsonl") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      auto part = read_journal(file.string(), corrupt);
      records.insert(records.end(), part.begin(), part.end());
    }
  }
  return records;
}

std::map<std::string, JournalRecord> RunDirectory::done_by_hash(std::vector<CorruptRecord>* corrupt) const {
  std::map<std::string, JournalRecord> done;
  for (auto& record : journal_records(corrupt))
    if (record.status == "done") done[record.hash] = std::move(record);
  return done;
}

RunLock::RunLock(const std::string& dir) {
  const std::string path = (fs::path(dir) / "run.lock").string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw StoreError(path + ": cannot open (" + std::strerror(errno) + ")");
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(fd_, F_SETLK, &lock) != 0) {
    const int code = errno;
    if (code == EACCES || code == EAGAIN) {
      std::string holder(512, '\0');
      const ssize_t n = ::pread(fd_, holder.data(), holder.size(), 0);
      holder.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
      while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
      ::close(fd_);
      fd_ = -1;
      throw InputError("results directory " + dir + " is in use by another run (" +
                       (holder.empty() ? std::string("holder unknown") : holder) +
                       "): wait for it to end, or give this job another [job] output");
    }
    std::fprintf(
        stderr,
        "acsweep: warning: %s: cannot lock (%s): a second run on this directory would not be refused\n",
        path.c_str(), std::strerror(code));
    return;
  }
  char host[256] = "unknown";
  ::gethostname(host, sizeof host - 1);
  const std::string holder = std::string("host ") + host + ", pid " + std::to_string(::getpid()) +
                             ", since " + utc_timestamp() + "\n";
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, holder.data(), holder.size(), 0) != static_cast<ssize_t>(holder.size()))
    throw StoreError(path + ": cannot write the holder (" + std::strerror(errno) + ")");
}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // drops the lock
}

std::uint64_t segment_bytes(std::size_t tasks, std::size_t width,
                            const std::map<std::string, std::size_t>& sample_widths) {
  // status (1), values (8 x width), seconds (8), rank (4), segment (4), per task; saturating.
  const long double per_task = 17.0L + 8.0L * static_cast<long double>(width);
  long double bytes = per_task * static_cast<long double>(tasks);
  for (const auto& [name, w] : sample_widths)
    bytes += 8.0L * static_cast<long double>(std::max<std::size_t>(w, 1)) * static_cast<long double>(tasks);
  const auto most = static_cast<long double>(std::numeric_limits<std::uint64_t>::max());
  return bytes >= most ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(bytes);
}

std::uint64_t free_bytes(const std::string& dir) {
  struct statvfs fs {};
  if (statvfs(dir.c_str(), &fs) != 0)
    throw StoreError(dir + ": cannot read the free space (statvfs: " + std::strerror(errno) + ")");
  return static_cast<std::uint64_t>(fs.f_bavail) * static_cast<std::uint64_t>(fs.f_frsize);
}

SegmentFile::SegmentFile(const std::string& path, MPI_Comm comm,
                         const std::vector<runtime::TaskDescriptor>& plan, std::size_t width,
                         const SegmentInfo& info, const std::map<std::string, std::size_t>& sample_widths)
    : path_(path), width_(width) {
  file_ = std::make_unique<H5File>(H5File::create_parallel(path, comm));
  // Attributes and datasets are created by every rank alike: structure changes are collective.
  file_->set_attribute("version", std::string("1"));
  file_->set_attribute("job", info.job);
  file_->set_attribute("job_text", info.job_text);
  file_->set_attribute("segment", static_cast<std::int64_t>(info.segment));
  file_->set_attribute("seed", static_cast<std::int64_t>(info.seed));
  file_->set_attribute("world_size", static_cast<std::int64_t>(info.world_size));
  file_->set_attribute("complete", static_cast<std::int64_t>(0));
  H5Location tasks = file_->create_group("tasks");
  const auto n = static_cast<hsize_t>(plan.size());
  std::vector<std::string> names, hashes, kinds;
  for (const auto& task : plan) {
    names.push_back(task.name);
    hashes.push_back(task.hash);
    kinds.push_back(task.kind);
  }
  // Fixed-length string columns are created collectively; rank 0 writes their contents.
  int rank = 0;
  if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS) throw StoreError(path + ": MPI_Comm_rank failed");
  for (const auto& [name, values] :
       {std::pair{"name", &names}, std::pair{"hash", &hashes}, std::pair{"kind", &kinds}}) {
    std::size_t length = 1;
    for (const auto& v : *values) length = std::max(length, v.size());
    H5Handle type = fixed_string_type(length);
    H5Dataset set = H5Dataset::create(tasks, name, type.get(), {n}, nullptr);
    if (rank == 0 && n > 0) {
      std::string packed(values->size() * length, '\0');
      for (std::size_t i = 0; i < values->size(); ++i)
        packed.replace(i * length, (*values)[i].size(), (*values)[i]);
      set.write_rows(0, n, type.get(), packed.data());
    }
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  status_ = std::make_unique<H5Dataset>(column(tasks, "status", H5T_NATIVE_INT8, {n}, std::int8_t{0}));
  values_ = std::make_unique<H5Dataset>(
      column(tasks, "values", H5T_NATIVE_DOUBLE, {n, static_cast<hsize_t>(width)}, nan));
  seconds_ = std::make_unique<H5Dataset>(column(tasks, "seconds", H5T_NATIVE_DOUBLE, {n}, nan));
  rank_ = std::make_unique<H5Dataset>(column(tasks, "rank", H5T_NATIVE_INT32, {n}, std::int32_t{-1}));
  segment_ = std::make_unique<H5Dataset>(column(tasks, "segment", H5T_NATIVE_INT32, {n}, std::int32_t{-1}));
  if (!sample_widths.empty()) {
    H5Location per_sample = tasks.create_group("per_sample");
    for (const auto& [name, w] : sample_widths)
      per_sample_[name] = {w, std::make_unique<H5Dataset>(
                                  column(per_sample, name, H5T_NATIVE_DOUBLE,
                                         {n, static_cast<hsize_t>(std::max<std::size_t>(w, 1))}, nan))};
  }
  file_->flush();
}

SegmentFile::~SegmentFile() = default;

void SegmentFile::write_status(std::uint64_t row, TaskStatus status) {
  const auto code = static_cast<std::int8_t>(status);
  status_->write_rows(row, 1, H5T_NATIVE_INT8, &code);
}

void SegmentFile::record_done(std::uint64_t row, const std::vector<double>& values, double seconds, int rank,
                              int segment, const std::map<std::string, std::vector<double>>& per_sample) {
  for (const auto& [name, series] : per_sample) {
    const auto found = per_sample_.find(name);
    if (found == per_sample_.end())
      continue;  // a series the plan does not keep in the file (the journal has it)
    const std::size_t w = found->second.first;
    if (series.size() > w)
      throw StoreError(path_ + ": task row " + std::to_string(row) + " has " + std::to_string(series.size()) +
                       " " + name + " values, the file holds " + std::to_string(w));
    std::vector<double> padded(std::max<std::size_t>(w, 1), std::numeric_limits<double>::quiet_NaN());
    std::copy(series.begin(), series.end(), padded.begin());
    found->second.second->write_rows(row, 1, H5T_NATIVE_DOUBLE, padded.data());
  }
  std::vector<double> padded(width_, std::numeric_limits<double>::quiet_NaN());
  if (values.size() > width_)
    throw StoreError(path_ + ": task row " + std::to_string(row) + " has " + std::to_string(values.size()) +
                     " values, the file holds " + std::to_string(width_));
  std::copy(values.begin(), values.end(), padded.begin());
  values_->write_rows(row, 1, H5T_NATIVE_DOUBLE, padded.data());
  seconds_->write_rows(row, 1, H5T_NATIVE_DOUBLE, &seconds);
  const auto r = static_cast<std::int32_t>(rank), s = static_cast<std::int32_t>(segment);
  rank_->write_rows(row, 1, H5T_NATIVE_INT32, &r);
  segment_->write_rows(row, 1, H5T_NATIVE_INT32, &s);
  write_status(row, TaskStatus::Done);  // last: a row marked done is whole
}

void SegmentFile::record_failed(std::uint64_t row, int rank) {
  const auto r = static_cast<std::int32_t>(rank);
  rank_->write_rows(row, 1, H5T_NATIVE_INT32, &r);
  write_status(row, TaskStatus::Failed);
}

void SegmentFile::flush() { file_->flush(); }

void SegmentFile::close() {
  status_.reset();
  values_.reset();
  seconds_.reset();
  rank_.reset();
  segment_.reset();
  per_sample_.clear();
  file_->close();
  file_.reset();
}

void mark_segment_complete(H5File& file) {
  file.set_attribute("complete", static_cast<std::int64_t>(1));
  file.set_attribute("completed", utc_timestamp());
}

void mark_segment_stopped(H5File& file) { file.set_attribute("stopped", utc_timestamp()); }

std::string segment_state(const std::string& path) {
  try {
    H5File file = H5File::open_read_only(path);
    H5Handle attr(check_h5_id(H5Aopen(file.id(), "complete", H5P_DEFAULT), "opening " + path + "@complete"),
                  H5Aclose);
    std::int64_t complete = 0;
    check_h5(H5Aread(attr.get(), H5T_NATIVE_INT64, &complete), "reading " + path + "@complete");
    if (complete == 1) return "complete";
    return H5Aexists(file.id(), "stopped") > 0 ? "stopped" : "incomplete";
  } catch (const StoreError&) {
    return "unreadable";
  }
}

}  // namespace acsweep::store
