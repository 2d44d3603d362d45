#pragma once
// SIGTERM and SIGUSR1 (Slurm's warning before the time limit) ask for a graceful stop: the
// coordinator hands out no more work, running tasks finish, results are flushed and the process
// exits 0 so that a requeued job resumes. A second signal exits at once. SIGXFSZ is ignored: a
// write past a file-size limit fails (EFBIG) and is reported like a full disk.
namespace acsweep::runtime {

void install_stop_handlers();
bool stop_requested();
// For tests: behave as if a stop signal had arrived (or clear it).
void request_stop(bool stop = true);

}  // namespace acsweep::runtime
