#pragma once

#include <cstdint>
#include <functional>
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
/// carried; an empty target_of: every task stays where it is), with its results, state, rank and
/// seconds, and its /failures rows. Pending tasks and tasks in `damage` ranges of a per-task column
/// are not carried, so they run again. /chunks rows are copied for the identity (they speak
/// positions of the same job). Holds one old column in memory at a time (n_tasks x its width), so
/// that any mapping costs one sequential read and one sequential write per column; `cancelled` is
/// polled between HDF5 chunks (Interrupted).
CarryOver carry_over(const ResultsFile& from, ResultsFile& to, std::span<const TaskIndex> target_of,
                     std::span<const Damage> damage, const std::function<bool()>& cancelled = {});

}  // namespace taskfarm::io
