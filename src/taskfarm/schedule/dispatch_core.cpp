#include "taskfarm/schedule/dispatch_core.hpp"

#include <algorithm>

namespace taskfarm::schedule {

DispatchCore::DispatchCore(const PolicySpec& spec, std::vector<TaskRange> pending, Requesters who)
    : spec_(spec),
      who_(std::move(who)),
      dispatcher_(spec, std::move(pending), who_.workers),
      held_(static_cast<std::size_t>(who_.workers)),
      asking_(static_cast<std::size_t>(who_.workers), false) {
  who_.single.resize(static_cast<std::size_t>(who_.workers), true);
  who_.reclaimable.resize(static_cast<std::size_t>(who_.workers), false);
}

PolicySpec DispatchCore::root_spec(const PolicySpec& job, const PolicySpec& root, bool flat) {
  if (flat) {
    return job;
  }
  PolicySpec spec = root;  // sized for groups; the job's lower bound still applies
  spec.min_chunk = job.min_chunk;
  spec.max_chunk = 0;
  return spec;
}

void DispatchCore::reply(int worker, std::uint32_t want, std::vector<TaskRange>& out) {
  const auto w = static_cast<std::size_t>(worker);
  const TaskIndex share = factoring_share(dispatcher_.remaining(), static_cast<TaskIndex>(who_.workers));
  const TaskIndex single_cap = who_.single[w] && who_.workers != who_.computing
                                   ? factoring_share(dispatcher_.remaining(), static_cast<TaskIndex>(who_.computing))
                                   : 0;
  TaskIndex given = 0;
  for (std::uint32_t n = 0; n < want && (n == 0 || given < share); ++n) {
    const auto chunk = dispatcher_.next(worker, single_cap);
    if (!chunk) {
      break;
    }
    given += chunk->size();
    outstanding_ += chunk->size();
    held_[w].push_back({*chunk, chunk->size(), false});
    out.push_back(*chunk);
  }
}

void DispatchCore::report(const ChunkReport& report) {
  dispatcher_.observe(report);
  auto& held = held_.at(static_cast<std::size_t>(report.worker));
  // Reports come in the order chunks were handed out, so the match is almost always the front.
  for (auto it = held.begin(); it != held.end(); ++it) {
    if (it->range.contains(report.range.begin)) {
      const TaskIndex n = std::min(it->left, report.range.size());
      it->left -= n;
      outstanding_ -= n;
      if (it->left == 0) {
        held.erase(it);
      }
      return;
    }
  }
}

std::optional<Reclaim> DispatchCore::reclaim() {
  if (dispatcher_.remaining() != 0 || spec_.kind == PolicyKind::static_block) {
    return std::nullopt;
  }
  std::optional<Reclaim> best;
  for (std::size_t w = 0; w < held_.size(); ++w) {
    if (!who_.reclaimable[w] || asking_[w] || held_[w].size() < 2) {
      continue;  // the front chunk is the one it computes
    }
    // Its largest chunk queued behind the front one, not asked for before.
    for (auto it = held_[w].begin() + 1; it != held_[w].end(); ++it) {
      if (!it->asked && it->left == it->range.size() && (!best || it->range.size() > best->range.size())) {
        best = Reclaim{static_cast<int>(w), it->range};
      }
    }
  }
  if (best) {
    asking_[static_cast<std::size_t>(best->worker)] = true;
  }
  return best;
}

void DispatchCore::reclaimed(int worker, TaskRange range, bool given_back) {
  const auto w = static_cast<std::size_t>(worker);
  asking_.at(w) = false;
  auto& held = held_[w];
  const auto it = std::find_if(held.begin(), held.end(), [&](const Held& h) { return h.range == range; });
  if (it == held.end()) {
    return;  // already reported: it had started after all
  }
  if (given_back && it->left == range.size()) {
    outstanding_ -= it->left;
    held.erase(it);
    dispatcher_.give_back(range);
    ++given_back_;
  } else {
    it->asked = true;
  }
}

TaskIndex DispatchCore::held(int worker) const {
  TaskIndex n = 0;
  for (const Held& h : held_.at(static_cast<std::size_t>(worker))) {
    n += h.left;
  }
  return n;
}

}  // namespace taskfarm::schedule
