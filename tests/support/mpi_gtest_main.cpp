// GoogleTest main for tests under mpiexec (after KaMPIng's mpi_gtest_main and LLNL's
// gtest-mpi-listener): every rank runs every test in the same order; only rank 0 prints; the exit
// code is the worst over all ranks, so a failure on any rank fails the ctest.
#include <gtest/gtest.h>

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>

int main(int argc, char** argv) {
  boost::mpi::environment env(argc, argv, boost::mpi::threading::funneled);
  const boost::mpi::communicator world;
  ::testing::InitGoogleTest(&argc, argv);
  if (world.rank() != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  const int local = RUN_ALL_TESTS();
  int worst = 0;
  boost::mpi::all_reduce(world, local, worst, boost::mpi::maximum<int>());
  return worst;
}
