#pragma once

#include <array>
#include <initializer_list>
#include <vector>

#include "taskfarm/core/task_range.hpp"
#include "taskfarm/io/results_file.hpp"

namespace taskfarm::io {

/// @brief The /tasks/state changes since the last checkpoint, written by commit() only.
///
/// This is what makes the output file a safe checkpoint: results may reach the file at any time,
/// but a task is marked done only by commit(), which the caller runs after an H5Fflush of the
/// results. So whatever instant a job is killed at, a task whose state says done has its results
/// on disk; everything else is pending and is computed again on resume.
class TaskStateLog {
 public:
  /// @brief Tasks `range` finished; consecutive calls for adjacent ranges merge.
  void add_done(TaskRange range);
  /// @brief Task failed for good (retries exhausted).
  void add_failed(TaskIndex task) { failed_.push_back(task); }
  [[nodiscard]] bool empty() const noexcept { return done_.empty() && failed_.empty(); }

  /// @brief Writes the states (failed first, so a task that failed and then succeeded ends done)
  /// and forgets them.
  void commit(ResultsFile& file);

 private:
  std::vector<TaskRange> done_;
  std::vector<TaskIndex> failed_;
};

/// @brief Sorted, disjoint ranges of tasks whose state is one of `states` (read in blocks).
std::vector<TaskRange> tasks_in_state(const ResultsFile& file, std::initializer_list<TaskState> states);

/// @brief Number of tasks in each state: [pending, done, failed].
std::array<std::uint64_t, 3> count_states(const ResultsFile& file);

}  // namespace taskfarm::io
