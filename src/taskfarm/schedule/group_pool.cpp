#include "taskfarm/schedule/group_pool.hpp"

#include "taskfarm/schedule/dispatch_core.hpp"

namespace taskfarm::schedule {

void GroupPool::add(TaskRange root_chunk) {
  pool_.push_back({root_chunk, std::make_unique<ChunkDispatcher>(policy_, std::vector<TaskRange>{root_chunk}, members_)});
  tasks_ += root_chunk.size();
}

void GroupPool::reply(int member, std::uint32_t want, std::vector<TaskRange>& out) {
  const TaskIndex share = factoring_share(tasks_, static_cast<TaskIndex>(members_));
  TaskIndex given = 0;
  std::uint32_t n = 0;
  while (n < want && !pool_.empty() && (n == 0 || given < share)) {
    const auto chunk = pool_.front().dispatcher->next(member);
    if (!chunk) {
      if (pool_.front().dispatcher->exhausted()) {
        pool_.pop_front();
        continue;
      }
      break;  // the policy has nothing for this member in this chunk (static): wait for more
    }
    tasks_ -= chunk->size();
    given += chunk->size();
    last_piece_ = chunk->size();
    out.push_back(*chunk);
    ++n;
  }
}

void GroupPool::observe(const ChunkReport& report) {
  for (Entry& e : pool_) {
    if (e.range.contains(report.range.begin)) {
      e.dispatcher->observe(report);
      return;
    }
  }
}

}  // namespace taskfarm::schedule
