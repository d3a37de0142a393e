#pragma once

#include <atomic>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include <boost/mpi/communicator.hpp>

#include "taskfarm/app/kernel.hpp"
#include "taskfarm/farm/farm.hpp"
#include "taskfarm/farm/result_writer.hpp"
#include "taskfarm/schedule/chunk_dispatcher.hpp"

namespace taskfarm::farm {

/// @brief Rank 0. Its main thread answers workers' requests (the only thread that calls MPI); a
/// writer thread puts results on disk; and, unless the job says otherwise, a compute thread runs
/// tasks too, taking chunks from the same dispatcher without any messaging.
class Master {
 public:
  Master(const boost::mpi::communicator& world, const job::JobSpec& spec, app::Kernel& kernel, io::ResultsFile& file,
         const FarmOptions& options, double t0, std::vector<std::string> hosts);
  /// @brief Runs until every task is done and every worker has left.
  FarmResult run(RankStats& local_stats);

 private:
  void serve(int source, std::vector<std::byte> bytes);
  void compute_locally(RankStats& stats);
  void print_progress(double now, bool last);
  /// Policies see workers as 0..P-1: rank r, or r - 1 when rank 0 does not compute.
  [[nodiscard]] int worker_index(int rank) const noexcept { return local_compute_ ? rank : rank - 1; }

  const boost::mpi::communicator& world_;
  const job::JobSpec& spec_;
  app::Kernel& kernel_;
  io::ResultsFile& file_;
  FarmOptions options_;
  double t0_;
  std::vector<std::size_t> widths_;
  bool local_compute_;

  std::mutex dispatch_mutex_;
  schedule::ChunkDispatcher dispatcher_;
  ResultWriter writer_;
  int active_workers_;

  std::atomic<bool> local_done_{false};
  std::atomic<bool> local_failed_{false};
  std::exception_ptr local_error_;
  double last_progress_ = 0.0;
};

}  // namespace taskfarm::farm
