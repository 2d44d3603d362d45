#include "acsweep/runtime/mpi.hpp"

#include <cstdlib>
#include <limits>

namespace acsweep::runtime {

void check_mpi(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, message, &length) != MPI_SUCCESS) length = 0;
  throw MpiError(std::string(what) + " failed: " +
                 (length > 0 ? std::string(message, static_cast<std::size_t>(length))
                             : "MPI error code " + std::to_string(code)));
}

bool launched_as_mpi_rank() {
  // Open MPI's mpirun (and PMIx under srun), MPICH's and Intel MPI's hydra, Slurm's PMI-2.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE", "PMI_FD"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}

MpiSession::MpiSession(int& argc, char**& argv, Start start) {
  if (start == Start::under_launcher && !launched_as_mpi_rank()) return;
  initialised_ = true;
  // Open MPI's default shared-file-pointer component (sm) keeps a POSIX semaphore named after the
  // file's base name (/dev/shm/sem.OMPIO_segment-0001.h5) for every MPI_File_open, shared by
  // every job on the host: a rank killed while holding it hangs every later job there. acsweep
  // uses no shared file pointer, so the component that needs no semaphore does. A value the user
  // set is kept.
  if (setenv("OMPI_MCA_sharedfp", "individual", 0) != 0) throw MpiError("setenv(OMPI_MCA_sharedfp) failed");
  int provided = 0;
  check_mpi(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  check_mpi(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
}

MpiSession::~MpiSession() {
  if (!initialised_) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  // A destructor cannot throw; a failing MPI_Finalize at exit leaves nothing to recover.
  if (!finalized) MPI_Finalize();
}

void broadcast(std::string& text, int root, MPI_Comm comm) {
  auto length = static_cast<std::int64_t>(text.size());
  broadcast(length, root, comm);
  text.resize(static_cast<std::size_t>(length));
  check_mpi(MPI_Bcast(text.data(), static_cast<int>(length), MPI_CHAR, root, comm), "MPI_Bcast(string)");
}

std::vector<std::string> gather(const std::string& text, int root, MPI_Comm comm) {
  int rank = 0, size = 1;
  check_mpi(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    throw std::length_error("gather: a text of " + std::to_string(text.size()) +
                            " bytes is over MPI's int count");
  int length = static_cast<int>(text.size());
  std::vector<int> lengths(static_cast<std::size_t>(size)), offsets(static_cast<std::size_t>(size));
  check_mpi(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, comm), "MPI_Gather(lengths)");
  std::int64_t total = 0;
  for (int r = 0; r < size; ++r) {
    offsets[static_cast<std::size_t>(r)] = static_cast<int>(total);
    total += lengths[static_cast<std::size_t>(r)];
  }
  if (rank == root && total > std::numeric_limits<int>::max())
    throw std::length_error("gather: " + std::to_string(total) + " bytes in all is over MPI's int count");
  std::string all(rank == root ? static_cast<std::size_t>(total) : 0, '\0');
  check_mpi(MPI_Gatherv(text.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR,
                        root, comm),
            "MPI_Gatherv(strings)");
  std::vector<std::string> out;
  if (rank != root) return out;
  for (int r = 0; r < size; ++r)
    out.push_back(all.substr(static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]),
                             static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)])));
  return out;
}

void MpiSession::abort(int code) const {
  if (!initialised_) std::_Exit(code);  // a world of one: nobody else to stop
  MPI_Abort(MPI_COMM_WORLD, code);
  std::abort();
}

}  // namespace acsweep::runtime
