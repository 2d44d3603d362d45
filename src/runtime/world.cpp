#include "acsweep/runtime/world.hpp"

#include <cstdlib>

#include "acsweep/error.hpp"
#include "acsweep/runtime/mpi.hpp"

namespace acsweep::runtime {

std::string to_string(Role role) {
  switch (role) {
    case Role::Coordinator:
      return "coordinator";
    case Role::Worker:
      return "worker";
    case Role::Scorer:
      return "scorer";
  }
  return "?";
}

Layout default_layout(int world_size) {
  if (world_size <= 1) return Layout{0, 1};
  int size = 1;
  while (size * 2 <= (world_size - 1) / 2) size *= 2;
  return Layout{1, size};
}

std::vector<RankRole> assign_roles(const Layout& layout, int world_size) {
  std::vector<RankRole> roles(static_cast<std::size_t>(world_size));
  roles[0].role = Role::Coordinator;
  if (world_size == 1) return roles;  // one process runs everything in order
  const long needed = 1L + static_cast<long>(layout.groups) * layout.group_size;
  if (layout.groups < 0 || layout.group_size < 1 || needed > world_size)
    throw InputError("layout: 1 coordinator + " + std::to_string(layout.groups) + " group(s) x " +
                     std::to_string(layout.group_size) + " rank(s) needs " + std::to_string(needed) +
                     " ranks, but the world has " + std::to_string(world_size));
  for (int g = 0; g < layout.groups; ++g)
    for (int r = 0; r < layout.group_size; ++r)
      roles[static_cast<std::size_t>(1 + g * layout.group_size + r)] = RankRole{Role::Worker, g, r};
  return roles;
}

void check_launch(int world_size) {
  const char* tasks = std::getenv("SLURM_NTASKS");
  if (world_size == 1 && tasks && std::atoi(tasks) > 1)
    throw InputError("Slurm started " + std::string(tasks) +
                     " tasks but MPI sees a world of 1: each task runs alone. Launch with "
                     "`srun --mpi=pmix` (or the PMI your MPI was built with) or with mpirun inside "
                     "the allocation");
}

Communicator::~Communicator() {
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);  // no exception from a destructor
}

Communicator& Communicator::operator=(Communicator&& other) noexcept {
  if (this != &other) {
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    comm_ = other.comm_;
    other.comm_ = MPI_COMM_NULL;
  }
  return *this;
}

int Communicator::rank() const {
  int r = 0;
  check_mpi(MPI_Comm_rank(comm_, &r), "MPI_Comm_rank");
  return r;
}

int Communicator::size() const {
  int s = 0;
  check_mpi(MPI_Comm_size(comm_, &s), "MPI_Comm_size");
  return s;
}

World::World(const Layout& layout, MPI_Comm world) : world_(world), layout_(layout) {
  check_mpi(MPI_Comm_rank(world, &rank_), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(world, &size_), "MPI_Comm_size");
  roles_ = assign_roles(layout, size_);

  MPI_Comm node = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
            "MPI_Comm_split_type(shared)");
  Communicator node_comm(node);
  local_rank_ = node_comm.rank();

  MPI_Comm group = MPI_COMM_NULL;
  const RankRole& mine = role();
  check_mpi(
      MPI_Comm_split(world, mine.role == Role::Worker ? mine.group : MPI_UNDEFINED, mine.group_rank, &group),
      "MPI_Comm_split(worker groups)");
  group_ = Communicator(group);
  MPI_Comm results = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split(world, 0, rank_, &results), "MPI_Comm_split(results file)");
  results_ = Communicator(results);
}

}  // namespace acsweep::runtime
