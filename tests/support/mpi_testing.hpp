#pragma once

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>

namespace taskfarm::testing {

/// @brief True on every rank iff `ok` is true on every rank: lets a check made on one rank (say the
/// master reading the file) fail the test everywhere, so no rank goes on alone into a collective.
inline bool all_ok(const boost::mpi::communicator& comm, bool ok) {
  bool all = false;
  boost::mpi::all_reduce(comm, ok, all, std::logical_and<bool>());
  return all;
}

}  // namespace taskfarm::testing
