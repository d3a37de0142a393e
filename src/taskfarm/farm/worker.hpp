#pragma once

#include <boost/mpi/communicator.hpp>

#include "taskfarm/app/kernel.hpp"
#include "taskfarm/farm/chunk_runner.hpp"
#include "taskfarm/farm/farm.hpp"

namespace taskfarm::farm {

/// @brief A rank other than 0: asks the master for chunks, computes them, sends results back with
/// its next request. Keeps its next chunk requested before it runs dry, so it never waits on the
/// master: with `prefetch` = 0 (auto) the request leaves when the queued work falls below two
/// measured round trips (just in time, so decreasing-chunk policies see the true remaining work);
/// with prefetch = d it keeps d chunks requested beyond the one it computes.
class Worker {
 public:
  /// @param scheduler the rank that hands out chunks: 0, or the group master (results always go to 0)
  /// @param order maps the positions it is handed to the tasks its kernel computes
  /// @param kernels one per slot; @param limit walltime-aware start (or nullptr)
  Worker(const boost::mpi::communicator& world, std::vector<app::Kernel*> kernels, const job::TaskOrder& order,
         unsigned prefetch, double t0, int scheduler = 0, const StartLimit* limit = nullptr);
  RankStats run();

 private:
  const boost::mpi::communicator& world_;
  std::vector<app::Kernel*> kernels_;
  const StartLimit* limit_;
  const job::TaskOrder& order_;
  unsigned prefetch_;
  double t0_;
  int scheduler_;
};

}  // namespace taskfarm::farm
