#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/mpi/communicator.hpp>

#include "taskfarm/app/kernel.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/job/job_spec.hpp"

namespace taskfarm::farm {

/// @brief Knobs of a run that are not part of the job file.
struct FarmOptions {
  double flush_seconds = 5.0;      ///< checkpoint interval of the output file
  double progress_seconds = 10.0;  ///< progress line interval on stderr (0: never)
};

/// @brief What one rank did (gathered to rank 0 into /ranks).
struct RankStats {
  std::uint64_t tasks = 0;
  std::uint64_t chunks = 0;
  double busy_seconds = 0.0;
  double cpu_seconds = 0.0;
  double peak_rss_mib = 0.0;
};

/// @brief How the run ended (meaningful on rank 0).
struct FarmResult {
  std::uint64_t done = 0;
  std::uint64_t failed = 0;
  double wall_seconds = 0.0;
  double master_cpu_seconds = 0.0;
};

/// @brief Runs a job on every rank of `world` (collective). Rank 0 is the master and writes `file`
/// (nullptr on other ranks); the other ranks are workers. Every rank must pass the same spec and
/// an equivalent kernel.
FarmResult run_farm(const boost::mpi::communicator& world, const job::JobSpec& spec, app::Kernel& kernel,
                    io::ResultsFile* file, const FarmOptions& options);

/// @brief Kernel field widths in bytes per task, as the wire format needs them.
std::vector<std::size_t> field_bytes(const app::Kernel& kernel);

}  // namespace taskfarm::farm
