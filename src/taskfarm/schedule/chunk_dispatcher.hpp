#pragma once

#include <map>
#include <memory>
#include <set>
#include <optional>
#include <vector>

#include "taskfarm/core/task_range.hpp"
#include "taskfarm/schedule/policy.hpp"

namespace taskfarm::schedule {

/// @brief Hands out chunks of the pending tasks in order, sized by a Policy and bounded by
/// min_chunk/max_chunk. A chunk never spans two pending ranges, so a resumed job whose pending
/// tasks have holes gets only pending tasks.
class ChunkDispatcher {
 public:
  /// @param pending sorted, disjoint ranges of tasks still to do
  ChunkDispatcher(const PolicySpec& spec, std::vector<TaskRange> pending, int n_workers);

  /// @brief The next chunk for `worker` (at most `max_size` tasks when non-zero), or nullopt when
  /// there is nothing (more) for it. Tasks to
  /// retry come first, one at a time, to a worker on which they have not failed yet if there is one.
  [[nodiscard]] std::optional<TaskRange> next(int worker, TaskIndex max_size = 0);
  /// @brief Queues `task` to run again after it failed on `failed_on`.
  void retry(TaskIndex task, int failed_on);
  /// @brief Takes back a chunk handed out but never started (a worker gave it back): it is handed
  /// out again before any pending range, in chunks the policy sizes.
  void give_back(TaskRange range);
  /// @brief Passes a finished chunk's timings to the policy.
  void observe(const ChunkReport& report) { policy_->observe(report); }

  /// @brief Tasks not yet handed out, retries included.
  [[nodiscard]] TaskIndex remaining() const noexcept { return remaining_ + retries_.size(); }
  [[nodiscard]] bool exhausted() const noexcept { return remaining() == 0; }

 private:
  PolicySpec spec_;
  std::unique_ptr<Policy> policy_;
  std::vector<TaskRange> pending_;
  std::size_t current_ = 0;  // index into pending_
  TaskIndex cursor_ = 0;     // next unassigned task inside pending_[current_]
  TaskIndex remaining_ = 0;  // of the pending ranges
  int n_workers_;
  std::vector<TaskRange> returned_;                 // given back, handed out first (back = next)
  std::vector<TaskIndex> retries_;                  // queued, oldest first
  std::map<TaskIndex, std::set<int>> failed_on_;  // every worker each retried task failed on
};

}  // namespace taskfarm::schedule
