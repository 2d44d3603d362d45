#include "acsweep/runtime/signals.hpp"

#include <unistd.h>

#include <csignal>

namespace acsweep::runtime {
namespace {

volatile std::sig_atomic_t g_signals = 0;

extern "C" void on_stop_signal(int signo) {
  if (g_signals > 0) _exit(128 + signo);  // the second signal: no more waiting
  g_signals = g_signals + 1;
  static const char message[] = "acsweep: stop signal received: finishing running tasks, then exiting\n";
  const ssize_t ignored = write(STDERR_FILENO, message, sizeof message - 1);
  (void)ignored;
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGUSR1, &action, nullptr);
  // A file-size limit (ulimit -f, a batch system's) then fails the write with EFBIG, which the
  // writers report naming the file, instead of killing the process without a word.
  signal(SIGXFSZ, SIG_IGN);
}

bool stop_requested() { return g_signals > 0; }

void request_stop(bool stop) { g_signals = stop ? 1 : 0; }

}  // namespace acsweep::runtime
