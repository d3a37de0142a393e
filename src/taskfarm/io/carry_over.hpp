#pragma once

#include <cstdint>
#include <span>

#include "taskfarm/io/results_file.hpp"

namespace taskfarm::io {

/// @brief What carry_over() moved from an old output into a new one.
struct CarryOver {
  std::uint64_t done = 0;              ///< done tasks whose results moved
  std::uint64_t failed = 0;            ///< failed tasks that stay failed
  std::uint64_t dropped = 0;           ///< done or failed tasks with no counterpart in the new job
  std::uint64_t damaged = 0;           ///< tasks in blocks that failed their checksum: pending again
  bool failures_table_lost = false;    ///< /failures unreadable: attempt counts start afresh
  [[nodiscard]] std::uint64_t lost() const noexcept { return dropped + damaged; }
};

/// @brief Copies the finished tasks of `from` into `to` (a new output of the same kernel schema,
/// every task pending): task t of `from` becomes task target_of[t] of `to` (job::kNoTask: not
/// carried), with its results, state, rank and seconds, and its /failures rows. Pending tasks and
/// tasks in `damage` ranges of a per-task column are not carried, so they run again. /chunks rows
/// are copied when the mapping is the identity (they speak positions of the same job).
CarryOver carry_over(const ResultsFile& from, ResultsFile& to, std::span<const TaskIndex> target_of,
                     std::span<const Damage> damage);

}  // namespace taskfarm::io
