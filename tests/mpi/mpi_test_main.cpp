// main() of every MPI test executable: one MPI session around the tests; only rank 0 prints,
// but a failure on any rank fails the run.
#include <gtest/gtest.h>
#include <mpi.h>

#include "acsweep/runtime/mpi.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  acsweep::runtime::MpiSession mpi(argc, argv);
  if (mpi.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = RUN_ALL_TESTS();
  acsweep::runtime::check_mpi(MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD),
                              "MPI_Allreduce(test result)");
  return failed;
}
