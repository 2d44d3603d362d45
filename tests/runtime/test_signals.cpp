// The stop handlers' companion: under a file-size limit, a write past it fails with EFBIG (which
// the writers report naming the file) instead of SIGXFSZ killing the process without a word.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

#include "acsweep/runtime/signals.hpp"

namespace acsweep::runtime {
namespace {

TEST(Signals, AWritePastAFileSizeLimitFailsWithEfbigInsteadOfKilling) {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("acsweep_fsize_" + std::to_string(::getpid()))).string();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // the limit and the handlers in a child, so that this process keeps neither
    install_stop_handlers();
    const rlimit limit{1024, 1024};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(3);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) ::_exit(4);
    const std::vector<char> bytes(4096, 'x');
    const ssize_t first = ::write(fd, bytes.data(), bytes.size());   // cut at the limit
    const ssize_t second = ::write(fd, bytes.data(), bytes.size());  // past it
    ::_exit(first == 1024 && second < 0 && errno == EFBIG ? 0 : 5);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  std::filesystem::remove(path);
  ASSERT_FALSE(WIFSIGNALED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace acsweep::runtime
