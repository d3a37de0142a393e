#include "taskfarm/schedule/chunk_dispatcher.hpp"

#include <algorithm>

namespace taskfarm::schedule {

ChunkDispatcher::ChunkDispatcher(const PolicySpec& spec, std::vector<TaskRange> pending, int n_workers)
    : spec_(spec), pending_(std::move(pending)), n_workers_(n_workers) {
  std::erase_if(pending_, [](TaskRange r) { return r.empty(); });
  for (TaskRange r : pending_) {
    remaining_ += r.size();
  }
  policy_ = make_policy(spec_, remaining_, n_workers);
  cursor_ = pending_.empty() ? 0 : pending_.front().begin;
}

void ChunkDispatcher::retry(TaskIndex task, int failed_on) {
  failed_on_[task].insert(failed_on);
  retries_.push_back(task);
}

void ChunkDispatcher::give_back(TaskRange range) {
  if (!range.empty()) {
    returned_.push_back(range);
    remaining_ += range.size();
  }
}

std::optional<TaskRange> ChunkDispatcher::next(int worker, TaskIndex max_size) {
  for (auto it = retries_.begin(); it != retries_.end(); ++it) {
    // Another worker if possible: a task that failed on one node may well succeed on the next.
    const std::set<int>& tried = failed_on_[*it];
    if (!tried.contains(worker) || static_cast<int>(tried.size()) >= n_workers_) {
      const TaskIndex t = *it;
      retries_.erase(it);
      return TaskRange{t, t + 1};
    }
  }
  if (remaining_ == 0) {
    return std::nullopt;
  }
  std::uint64_t size = policy_->next_size(remaining_, worker);
  if (size == 0) {
    return std::nullopt;
  }
  size = std::max(size, spec_.min_chunk);
  if (spec_.max_chunk != 0) {
    size = std::min(size, spec_.max_chunk);
  }
  if (max_size != 0) {
    size = std::min(size, max_size);
  }
  if (!returned_.empty()) {  // given back: before the pending ranges, whose tasks come later
    TaskRange& back = returned_.back();
    const TaskRange chunk{back.begin, back.begin + std::min(size, back.size())};
    back.begin = chunk.end;
    if (back.empty()) {
      returned_.pop_back();
    }
    remaining_ -= chunk.size();
    return chunk;
  }
  const TaskRange& range = pending_[current_];
  if (spec_.align > 0 && size >= 4 * spec_.align && (cursor_ + size) % spec_.align != 0) {
    size = (cursor_ + size) / spec_.align * spec_.align - cursor_;  // shorter by less than a quarter
  }
  const TaskRange chunk{cursor_, cursor_ + std::min(size, range.end - cursor_)};
  cursor_ = chunk.end;
  remaining_ -= chunk.size();
  if (cursor_ == range.end && current_ + 1 < pending_.size()) {
    ++current_;
    cursor_ = pending_[current_].begin;
  }
  return chunk;
}

}  // namespace taskfarm::schedule
