#include "taskfarm/schedule/chunk_dispatcher.hpp"

#include <algorithm>

namespace taskfarm::schedule {

ChunkDispatcher::ChunkDispatcher(const PolicySpec& spec, std::vector<TaskRange> pending, int n_workers)
    : spec_(spec), pending_(std::move(pending)) {
  std::erase_if(pending_, [](TaskRange r) { return r.empty(); });
  for (TaskRange r : pending_) {
    remaining_ += r.size();
  }
  policy_ = make_policy(spec_, remaining_, n_workers);
  cursor_ = pending_.empty() ? 0 : pending_.front().begin;
}

std::optional<TaskRange> ChunkDispatcher::next(int worker) {
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
  const TaskRange& range = pending_[current_];
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
