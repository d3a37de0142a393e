#pragma once

#include <vector>

#include <boost/mpi/communicator.hpp>

#include "taskfarm/job/job_spec.hpp"

namespace taskfarm::farm {

/// @brief A group master in two-level scheduling: a scheduling proxy for its members. It asks rank
/// 0 for large chunks (rank 0's root policy, one request per round for the whole group) and splits
/// each with the job's policy among its members, so rank 0 sees G requesters instead of P. It does
/// not compute, and results do not pass through it: members send them straight to rank 0.
class GroupMaster {
 public:
  GroupMaster(const boost::mpi::communicator& world, const job::JobSpec& spec, std::vector<int> members, double t0);
  /// @brief Serves the members until rank 0 has no more work (or says stop), then reports to rank 0.
  void run();

 private:
  const boost::mpi::communicator& world_;
  const job::JobSpec& spec_;
  std::vector<int> members_;
  double t0_;
};

}  // namespace taskfarm::farm
