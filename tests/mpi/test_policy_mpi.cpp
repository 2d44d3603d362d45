// At any rank count, splitting the simulation's runs over the ranks and summing the hit counts
// gives exactly the counts one process computes alone.
#include <gtest/gtest.h>
#include <mpi.h>

#include <numeric>

#include "acsweep/law/policy_simulation.hpp"
#include "acsweep/runtime/mpi.hpp"

namespace acsweep {
namespace {

TEST(PolicySimulationMpi, RanksTogetherEqualOneProcess) {
  int rank = 0, size = 1;
  runtime::check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
  runtime::check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
  const law::LawTable table = law::read_law_table(ACSWEEP_PAPER_TABLE);
  law::SimulationSpec spec;
  spec.budgets.resize(table.size());
  std::iota(spec.budgets.begin(), spec.budgets.end(), std::size_t{1});
  spec.runs = 101;  // not a multiple of any rank count used
  spec.seed = 2024;
  spec.samplers = {law::Sampler::Region, law::Sampler::Random, law::Sampler::Sequential};
  const law::PolicySimulation simulation(table, spec);

  std::vector<std::int64_t> hits = simulation.count_hits(rank, size);
  runtime::all_reduce_sum(hits, MPI_COMM_WORLD);
  EXPECT_EQ(hits, simulation.count_hits()) << "at " << size << " ranks";
}

TEST(PolicySimulationMpi, FailedCallIsAnErrorNamingIt) {
  std::vector<std::int64_t> values(3, 1);
  EXPECT_THROW(runtime::all_reduce_sum(values, MPI_COMM_NULL), runtime::MpiError);
}

}  // namespace
}  // namespace acsweep
