#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <boost/mpi/communicator.hpp>

#include "taskfarm/app/kernel.hpp"
#include "taskfarm/farm/plan.hpp"
#include "taskfarm/core/error.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/job/job_spec.hpp"

namespace taskfarm::farm {

/// @brief Runs a job on every rank of `world` (collective). Rank 0 is the master and writes `file`
/// (nullptr on other ranks); the other ranks are workers. Every rank must pass the same spec and
/// an equivalent kernel; `plan` matters on rank 0 only. SIGTERM, SIGINT and SIGUSR1 stop it cleanly
/// (handlers are installed here).
/// `kernels`: one per slot (`[job] slots`, fitted to the rank's cores), at least one.
FarmResult run_farm(const boost::mpi::communicator& world, const job::JobSpec& spec,
                    const std::vector<app::Kernel*>& kernels, io::ResultsFile* file, const FarmOptions& options,
                    const FarmPlan& plan);

/// @brief Waits until every rank of `world` has got here, sleeping between polls (collective). Open
/// MPI's blocking collectives spin: a rank waiting while rank 0 creates the output or closes it
/// would take a core that rank 0 needs whenever ranks share cores.
void quiet_barrier(const boost::mpi::communicator& world);

/// @brief Kernel field widths in bytes per task, as the wire format needs them.
std::vector<std::size_t> field_bytes(const app::Kernel& kernel);

}  // namespace taskfarm::farm
