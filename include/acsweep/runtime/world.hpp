#pragma once
// Ranks and roles (shared/spec/ARCHITECTURE.md): world rank 0 coordinates, G worker groups of S
// ranks follow, the remaining ranks score. A world of one runs everything in order.
#include <mpi.h>

#include <string>
#include <vector>

#include "acsweep/runtime/job_file.hpp"

namespace acsweep::runtime {

enum class Role { Coordinator, Worker, Scorer };
std::string to_string(Role role);

struct RankRole {
  Role role = Role::Scorer;
  int group = -1;       // worker group index, or -1
  int group_rank = -1;  // rank inside the group, or -1
};

// One group whose size is the largest power of two not above half of the non-coordinator
// ranks; the rest score. Worlds of 1 have no groups.
Layout default_layout(int world_size);

// Role of every world rank; InputError when the layout does not fit the world.
std::vector<RankRole> assign_roles(const Layout& layout, int world_size);

// A launch that cannot be right: Slurm started several tasks but MPI sees a world of one
// (every task thinks it is alone: the PMI between srun and MPI is missing).
void check_launch(int world_size);

// Owns a communicator made by MPI_Comm_split*; frees it on destruction.
class Communicator {
 public:
  Communicator() = default;
  explicit Communicator(MPI_Comm comm) : comm_(comm) {}
  ~Communicator();
  Communicator(Communicator&& other) noexcept : comm_(other.comm_) { other.comm_ = MPI_COMM_NULL; }
  Communicator& operator=(Communicator&& other) noexcept;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  MPI_Comm get() const { return comm_; }
  int rank() const;
  int size() const;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
};

// This rank's place in the job.
class World {
 public:
  World(const Layout& layout, MPI_Comm world);

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }  // among the ranks on this node: picks the GPU
  const Layout& layout() const { return layout_; }
  const RankRole& role() const { return roles_[static_cast<std::size_t>(rank_)]; }
  const std::vector<RankRole>& roles() const { return roles_; }
  MPI_Comm world() const { return world_; }
  MPI_Comm group() const { return group_.get(); }      // MPI_COMM_NULL outside worker groups
  MPI_Comm results() const { return results_.get(); }  // every rank that writes result rows

 private:
  MPI_Comm world_;
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  Layout layout_;
  std::vector<RankRole> roles_;
  Communicator group_, results_;
};

}  // namespace acsweep::runtime
