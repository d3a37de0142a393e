#pragma once

#include <memory>
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

  /// @brief The next chunk for `worker`, or nullopt when there is nothing (more) for it.
  [[nodiscard]] std::optional<TaskRange> next(int worker);
  /// @brief Passes a finished chunk's timings to the policy.
  void observe(const ChunkReport& report) { policy_->observe(report); }

  [[nodiscard]] TaskIndex remaining() const noexcept { return remaining_; }
  [[nodiscard]] bool exhausted() const noexcept { return remaining_ == 0; }

 private:
  PolicySpec spec_;
  std::unique_ptr<Policy> policy_;
  std::vector<TaskRange> pending_;
  std::size_t current_ = 0;  // index into pending_
  TaskIndex cursor_ = 0;     // next unassigned task inside pending_[current_]
  TaskIndex remaining_ = 0;
};

}  // namespace taskfarm::schedule
