#pragma once
// Typed MPI wrappers: every call's return code is checked and turned into an MpiError naming
// the call; collectives derive count and datatype from the container they are given.
#include <mpi.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace acsweep::runtime {

class MpiError : public std::runtime_error {
 public:
  explicit MpiError(const std::string& what) : std::runtime_error(what) {}
};

// Throws MpiError("<what>: <MPI's message>") unless code is MPI_SUCCESS.
void check_mpi(int code, const char* what);

template <class T>
MPI_Datatype mpi_datatype();
template <>
inline MPI_Datatype mpi_datatype<double>() {
  return MPI_DOUBLE;
}
template <>
inline MPI_Datatype mpi_datatype<std::int64_t>() {
  return MPI_INT64_T;
}
template <>
inline MPI_Datatype mpi_datatype<std::uint64_t>() {
  return MPI_UINT64_T;
}
template <>
inline MPI_Datatype mpi_datatype<int>() {
  return MPI_INT;
}

// True when a launcher (mpirun, mpiexec, srun with PMI or PMIx) started this process as a rank: it
// then expects MPI_Init. Read from the launchers' environment variables.
bool launched_as_mpi_rank();

// MPI_Init on construction, MPI_Finalize on destruction; errors on MPI_COMM_WORLD return codes
// instead of aborting, so that check_mpi sees them. Works without mpirun (a world of one).
// With Start::under_launcher a process that no launcher started is a world of one without MPI:
// Open MPI's singleton MPI_Init forks a helper daemon, which costs 0.3 s to a command that needs
// no other rank. Code that runs in such a process calls no MPI function outside `initialised()`.
class MpiSession {
 public:
  enum class Start { always, under_launcher };
  MpiSession(int& argc, char**& argv, Start start = Start::always);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool initialised() const { return initialised_; }
  // Ends every rank at once with `code`: for failures that other ranks may not have seen.
  [[noreturn]] void abort(int code) const;

 private:
  int rank_ = 0;
  int size_ = 1;
  bool initialised_ = false;
};

// Element-wise sum over all ranks of `comm`, in place.
template <class T>
void all_reduce_sum(std::vector<T>& values, MPI_Comm comm) {
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), mpi_datatype<T>(),
                          MPI_SUM, comm),
            "MPI_Allreduce(sum)");
}

// Element-wise maximum over all ranks of `comm`, in place.
template <class T>
void all_reduce_max(std::vector<T>& values, MPI_Comm comm) {
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), mpi_datatype<T>(),
                          MPI_MAX, comm),
            "MPI_Allreduce(max)");
}

template <class T>
void broadcast(T& value, int root, MPI_Comm comm) {
  check_mpi(MPI_Bcast(&value, 1, mpi_datatype<T>(), root, comm), "MPI_Bcast");
}
void broadcast(std::string& text, int root, MPI_Comm comm);
// `root`'s values on every rank, its length first.
template <class T>
void broadcast(std::vector<T>& values, int root, MPI_Comm comm) {
  auto length = static_cast<std::int64_t>(values.size());
  broadcast(length, root, comm);
  values.resize(static_cast<std::size_t>(length));
  check_mpi(MPI_Bcast(values.data(), static_cast<int>(length), mpi_datatype<T>(), root, comm),
            "MPI_Bcast(vector)");
}
// Every rank's `text` on `root`, in rank order (empty elsewhere). Each text under 2 GiB.
std::vector<std::string> gather(const std::string& text, int root, MPI_Comm comm);

// Runs `step` on `root` only; if it throws, every rank of `comm` throws the same kind of error
// (InputError or std::runtime_error) with the same message, so no rank waits for a partner that
// has given up.
template <class Step>
void on_root_then_share_errors(int root, MPI_Comm comm, Step&& step);

}  // namespace acsweep::runtime

#include "acsweep/error.hpp"

namespace acsweep::runtime {

template <class Step>
void on_root_then_share_errors(int root, MPI_Comm comm, Step&& step) {
  int rank = 0;
  check_mpi(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  int kind = 0;  // 0 fine, 1 bad input, 2 other failure
  std::string message;
  if (rank == root) {
    try {
      step();
    } catch (const InputError& e) {
      kind = 1;
      message = e.what();
    } catch (const std::exception& e) {
      kind = 2;
      message = e.what();
    }
  }
  broadcast(kind, root, comm);
  if (kind == 0) return;
  broadcast(message, root, comm);
  if (kind == 1) throw InputError(message);
  throw std::runtime_error(message);
}

}  // namespace acsweep::runtime
