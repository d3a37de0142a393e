#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "taskfarm/core/error.hpp"
#include "taskfarm/core/task_range.hpp"

// What a run is asked to do and what it did: the part of the farm's interface with no MPI in it,
// so that the command line (cli/) can drive the farm without seeing MPI.

namespace taskfarm::farm {

/// @brief Knobs of a run that are not part of the job file.
struct FarmOptions {
  double flush_seconds = 5.0;      ///< checkpoint interval of the output file
  bool fsync = true;               ///< fsync results before a checkpoint marks them done (node crashes)
  double progress_seconds = 30.0;  ///< progress line interval on stderr off a terminal (0: never)
  double end_epoch = 0.0;          ///< the job's end, Unix seconds (--deadline, else Slurm's end time); 0: none
};

/// @brief What rank 0 is to run: all tasks of a new job, or what a resumed job has left.
struct FarmPlan {
  std::vector<TaskRange> pending;               ///< sorted, disjoint
  std::map<TaskIndex, std::uint32_t> attempts;  ///< failed attempts that count against `retries`, per task
  std::map<TaskIndex, std::uint32_t> failed_before;  ///< every failed attempt so far, per task (from /failures):
                                                     ///< attempt numbers go on from it, /tasks/attempts counts it
};

/// @brief What one rank did (gathered to rank 0 into /ranks).
struct RankStats {
  std::uint64_t tasks = 0;
  std::uint64_t chunks = 0;
  double busy_seconds = 0.0;
  double cpu_seconds = 0.0;
  double peak_rss_mib = 0.0;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {  // Boost.Serialization: gathered on rank 0
    ar & tasks & chunks & busy_seconds & cpu_seconds & peak_rss_mib;
  }
};

/// @brief How the run ended (meaningful on rank 0).
struct FarmResult {
  std::uint64_t done = 0;     ///< tasks done in the file (all runs)
  std::uint64_t failed = 0;   ///< tasks failed for good
  std::uint64_t pending = 0;  ///< tasks still to do (a stopped job)
  bool stopped_by_signal = false;
  double wall_seconds = 0.0;
  double master_cpu_seconds = 0.0;
  std::uint64_t master_messages = 0;   ///< messages rank 0's MPI thread took up
  double master_service_seconds = 0.0;  ///< wall time it spent on them (receive, account, reply)
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {  // Boost.Serialization: broadcast from rank 0
    ar & done & failed & pending & stopped_by_signal & wall_seconds & master_cpu_seconds & master_messages &
        master_service_seconds;
  }
  /// @brief The process exit code this outcome maps to (README: exit codes).
  [[nodiscard]] ExitCode exit_code() const noexcept {
    if (pending > 0 && stopped_by_signal) {
      return ExitCode::interrupted;
    }
    return failed > 0 || pending > 0 ? ExitCode::tasks_failed : ExitCode::success;
  }
};

}  // namespace taskfarm::farm
