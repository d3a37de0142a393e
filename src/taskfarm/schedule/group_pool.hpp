#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "taskfarm/core/task_range.hpp"
#include "taskfarm/schedule/chunk_dispatcher.hpp"
#include "taskfarm/schedule/policy.hpp"

namespace taskfarm::schedule {

/// @brief A group master's decisions under two-level scheduling (after Eleliemy & Ciorba,
/// "Hierarchical dynamic loop self-scheduling on distributed-memory systems using an MPI+MPI
/// approach", IPDPSW 2019): chunks from rank 0 form a pool, each split by its own dispatcher running
/// the job's policy over the group's members, oldest first. farm/group_master.cpp and the simulator
/// both run it.
class GroupPool {
 public:
  GroupPool(const PolicySpec& policy, int members) : policy_(policy), members_(members) {}

  /// @brief A chunk from rank 0 joins the pool.
  void add(TaskRange root_chunk);
  /// @brief Appends to `out` the sub-chunks for `member` (0-based), which asks for `want` of them:
  /// at most a factoring share of the pool beyond the first, as rank 0 caps its replies. Empty when
  /// the pool has nothing for it now.
  void reply(int member, std::uint32_t want, std::vector<TaskRange>& out);
  /// @brief A member's report, for the policy of the root chunk it belongs to.
  void observe(const ChunkReport& report);

  /// @brief Ask rank 0 again: about two rounds of the group's sub-chunks are left.
  [[nodiscard]] bool wants_more() const noexcept {
    return tasks_ < 2 * static_cast<TaskIndex>(members_) * last_piece_;
  }
  /// @brief Root chunks to ask rank 0 for: one per member.
  [[nodiscard]] std::uint32_t root_want() const noexcept { return static_cast<std::uint32_t>(members_); }
  [[nodiscard]] bool empty() const noexcept { return pool_.empty(); }
  [[nodiscard]] TaskIndex tasks() const noexcept { return tasks_; }

 private:
  struct Entry {
    TaskRange range;
    std::unique_ptr<ChunkDispatcher> dispatcher;
  };
  PolicySpec policy_;
  int members_;
  std::deque<Entry> pool_;
  TaskIndex tasks_ = 0;
  TaskIndex last_piece_ = 1;  // size of the last sub-chunk handed out
};

}  // namespace taskfarm::schedule
