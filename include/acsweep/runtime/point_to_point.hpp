#pragma once
// Typed point-to-point messages: an object is serialised with Boost.Serialization and sent as
// bytes; the receiver probes for the size. No caller computes counts or datatypes.
#include <mpi.h>

#include <boost/archive/binary_iarchive.hpp>
#include <boost/archive/binary_oarchive.hpp>
#include <boost/serialization/map.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>
#include <climits>
#include <sstream>
#include <string>

#include "acsweep/runtime/mpi.hpp"

namespace acsweep::runtime {

template <class T>
void send_object(const T& object, int dest, int tag, MPI_Comm comm) {
  std::ostringstream out;
  {
    boost::archive::binary_oarchive archive(out);
    archive << object;
  }
  const std::string bytes = out.str();
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) throw MpiError("message larger than 2 GiB");
  check_mpi(MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dest, tag, comm), "MPI_Send");
}

// An empty message: the tag says it all (ready, stop).
inline void send_signal(int dest, int tag, MPI_Comm comm) {
  check_mpi(MPI_Send(nullptr, 0, MPI_BYTE, dest, tag, comm), "MPI_Send(signal)");
}

inline void receive_signal(const MPI_Status& probed, MPI_Comm comm) {
  check_mpi(MPI_Recv(nullptr, 0, MPI_BYTE, probed.MPI_SOURCE, probed.MPI_TAG, comm, MPI_STATUS_IGNORE),
            "MPI_Recv(signal)");
}

// Receives the message that `probed` (from MPI_Probe / MPI_Iprobe) describes.
template <class T>
T receive_object(const MPI_Status& probed, MPI_Comm comm) {
  int count = 0;
  check_mpi(MPI_Get_count(&probed, MPI_BYTE, &count), "MPI_Get_count");
  std::string bytes(static_cast<std::size_t>(count), '\0');
  check_mpi(
      MPI_Recv(bytes.data(), count, MPI_BYTE, probed.MPI_SOURCE, probed.MPI_TAG, comm, MPI_STATUS_IGNORE),
      "MPI_Recv");
  std::istringstream in(bytes);
  boost::archive::binary_iarchive archive(in);
  T object;
  archive >> object;
  return object;
}

inline MPI_Status probe(int source, int tag, MPI_Comm comm) {
  MPI_Status status;
  check_mpi(MPI_Probe(source, tag, comm, &status), "MPI_Probe");
  return status;
}

// True and `status` filled when a message is waiting.
inline bool poll(int source, int tag, MPI_Comm comm, MPI_Status& status) {
  int flag = 0;
  check_mpi(MPI_Iprobe(source, tag, comm, &flag, &status), "MPI_Iprobe");
  return flag != 0;
}

}  // namespace acsweep::runtime
