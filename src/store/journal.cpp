#include "acsweep/store/journal.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "acsweep/store/hdf5.hpp"

namespace acsweep::store {
namespace {

std::string to_hex_bits(double x) {
  std::uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(bits));
  return text;
}

double from_hex_bits(const std::string& text) {
  const std::uint64_t bits = std::stoull(text, nullptr, 16);
  double x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

nlohmann::json encode(const std::vector<double>& values) {
  nlohmann::json out = nlohmann::json::array();
  for (double v : values) out.push_back(to_hex_bits(v));
  return out;
}

std::vector<double> decode(const nlohmann::json& bits) {
  std::vector<double> out;
  for (const auto& b : bits) out.push_back(from_hex_bits(b.get<std::string>()));
  return out;
}

std::string system_error(const std::string& what) { return what + ": " + std::strerror(errno); }

// All of `bytes` to `fd`, then fsync; StoreError naming the journal `path` otherwise.
void write_and_sync(int fd, const std::string& bytes, const std::string& path) {
  // A line cut short by a full disk is taken back, so that a later line does not follow a torn one.
  struct stat before {};
  const bool sized = ::fstat(fd, &before) == 0;
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string failed = system_error("journal " + path + ": write failed");
      if (sized && written > 0) {  // best effort: a torn line left is this journal's last, which readers skip
        const int truncated = ::ftruncate(fd, before.st_size);
        (void)truncated;
      }
      throw StoreError(failed);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) throw StoreError(system_error("journal " + path + ": fsync failed"));
}

}  // namespace

std::uint32_t crc32(const std::string& bytes) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char ch : bytes) crc = table[(crc ^ ch) & 0xFFu] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

JournalWriter::JournalWriter(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) throw StoreError(system_error("journal " + path + ": cannot open"));
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void JournalWriter::append(const JournalRecord& r) {
  nlohmann::json doc = {{"status", r.status},
                        {"index", r.index},
                        {"name", r.name},
                        {"hash", r.hash},
                        {"values", encode(r.values)},
                        {"per_sample", nlohmann::json::object()},
                        {"message", r.message},
                        {"rank", r.rank},
                        {"segment", r.segment},
                        {"seconds", r.seconds}};
  for (const auto& [key, values] : r.per_sample) doc["per_sample"][key] = encode(values);
  const std::string payload = doc.dump();
  char crc[10];
  std::snprintf(crc, sizeof crc, "%08x ", crc32(payload));
  write_and_sync(fd_, crc + payload + "\n", path_);
}

namespace {

// The record on one line of a journal, or why it is none.
JournalRecord parse_record(const std::string& record, std::string& why) {
  JournalRecord r;
  if (record.size() < 10 || record[8] != ' ') {
    why = "not a journal record";
    return r;
  }
  const std::string payload = record.substr(9);
  if (record.find_first_not_of("0123456789abcdef") < 8 ||
      std::stoul(record.substr(0, 8), nullptr, 16) != crc32(payload)) {
    why = "checksum mismatch";
    return r;
  }
  try {
    const auto doc = nlohmann::json::parse(payload);
    r.status = doc.at("status").get<std::string>();
    r.index = doc.at("index").get<std::uint64_t>();
    r.name = doc.at("name").get<std::string>();
    r.hash = doc.at("hash").get<std::string>();
    r.values = decode(doc.at("values"));
    for (const auto& [key, bits] : doc.at("per_sample").items()) r.per_sample[key] = decode(bits);
    r.message = doc.at("message").get<std::string>();
    r.rank = doc.at("rank").get<int>();
    r.segment = doc.at("segment").get<int>();
    r.seconds = doc.at("seconds").get<double>();
  } catch (const std::exception& e) {  // a valid checksum over a record of another version
    why = std::string("not a journal record (") + e.what() + ")";
  }
  return r;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StoreError("journal " + path + ": cannot open for reading");
  return {(std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()};
}

}  // namespace

std::vector<JournalRecord> read_journal(const std::string& path, std::vector<CorruptRecord>* corrupt) {
  const std::string text = read_text(path);
  std::vector<JournalRecord> records;
  std::size_t start = 0, line = 0;
  while (start < text.size()) {
    ++line;
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) break;  // torn last record: written at the kill, never reported
    std::string why;
    JournalRecord record = parse_record(text.substr(start, end - start), why);
    start = end + 1;
    if (why.empty()) {
      records.push_back(std::move(record));
    } else if (corrupt) {
      corrupt->push_back({path, line, why});
    } else {
      throw StoreError("journal " + path + ", line " + std::to_string(line) + ": " + why +
                       " (corrupt file); the other records are intact: run again with --recompute-corrupt "
                       "to set this line aside (in " +
                       path + ".corrupt) and compute its task again");
    }
  }
  return records;
}

void set_aside_lines(const std::string& path, const std::vector<std::size_t>& lines) {
  const std::string text = read_text(path);
  std::string kept, dropped;
  std::size_t start = 0, line = 0;
  while (start < text.size()) {
    ++line;
    std::size_t end = text.find('\n', start);
    end = end == std::string::npos ? text.size() : end + 1;
    const bool drop = std::find(lines.begin(), lines.end(), line) != lines.end();
    (drop ? dropped : kept) += text.substr(start, end - start);
    start = end;
  }
  const auto write_all = [](const std::string& file, const std::string& bytes, int flags) {
    const int fd = ::open(file.c_str(), flags | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) throw StoreError(system_error("journal " + file + ": cannot open for writing"));
    try {
      write_and_sync(fd, bytes, file);
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (::close(fd) != 0) throw StoreError(system_error("journal " + file + ": close failed"));
  };
  write_all(path + ".corrupt", dropped, O_CREAT | O_APPEND);
  write_all(path + ".tmp", kept, O_CREAT | O_TRUNC);
  if (::rename((path + ".tmp").c_str(), path.c_str()) != 0)
    throw StoreError(system_error("journal " + path + ": cannot replace"));
}

}  // namespace acsweep::store
