#include "taskfarm/schedule/dispatch_core.hpp"

#include <algorithm>

namespace taskfarm::schedule {

DispatchCore::DispatchCore(const PolicySpec& spec, std::vector<TaskRange> pending, Requesters who)
    : spec_(spec),
      who_(std::move(who)),
      dispatcher_(spec, std::move(pending), who_.workers),
      held_(static_cast<std::size_t>(who_.workers)),
      asking_(static_cast<std::size_t>(who_.workers), false),
      measured_(static_cast<std::size_t>(who_.workers), {0.0, 0}) {
  who_.single.resize(static_cast<std::size_t>(who_.workers), true);
  who_.reclaimable.resize(static_cast<std::size_t>(who_.workers), false);
}

PolicySpec DispatchCore::root_spec(const PolicySpec& job, const PolicySpec& root, bool flat, std::uint64_t window) {
  PolicySpec spec = job;
  if (!flat) {
    spec = root;  // sized for groups; the job's lower bound still applies
    spec.min_chunk = job.min_chunk;
    spec.max_chunk = 0;
  }
  spec.align = window;
  return spec;
}

void DispatchCore::reply(int worker, std::uint32_t want, std::vector<TaskRange>& out, double now) {
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
    held_[w].push_back({*chunk, chunk->size(), false, now});
    out.push_back(*chunk);
  }
}

bool DispatchCore::report(const ChunkReport& report) {
  dispatcher_.observe(report);
  const auto w = static_cast<std::size_t>(report.worker);
  measured_.at(w).first += report.compute_seconds;
  measured_[w].second += report.range.size();
  auto& held = held_[w];
  // Reports come in the order chunks were handed out, so the match is almost always the front.
  // Within one holding: a retry (a chunk of one task) must not absorb the report of a chunk around it.
  const auto it = std::find_if(held.begin(), held.end(), [&](const Held& h) {
    return h.range.contains(report.range.begin) && report.range.end <= h.range.end;
  });
  if (it == held.end()) {  // a chunk another copy finished first
    return std::any_of(copies_.begin(), copies_.end(),
                       [&](const Copy& c) { return c.holder == report.worker && c.tail == report.range; });
  }
  const bool copy = it->copy;
  const TaskIndex n = std::min(it->left, report.range.size());
  it->left -= n;
  if (!it->copy) {
    outstanding_ -= n;
  }
  if (it->left > 0) {
    return copy;
  }
  const Held done = *it;
  held.erase(it);
  if (done.twin < 0) {
    return copy;
  }
  if (done.copy) {
    // The copy finished the tail first: the original's chunk is complete (its head came as pieces).
    TaskIndex left = 0;
    drop_twin(done.twin, done.range, &left);
    outstanding_ -= left;
    superseded_.push_back(done.twin);
  } else {
    drop_twin(done.twin, done.range, nullptr);  // the original won: the copy's results are duplicates
  }
  return copy;
}

void DispatchCore::drop_twin(int worker, TaskRange range, TaskIndex* outstanding_left) {
  auto& held = held_[static_cast<std::size_t>(worker)];
  const auto it = std::find_if(held.begin(), held.end(), [&](const Held& h) {
    return h.twin >= 0 && (h.range.contains(range.begin) || range.contains(h.range.begin));
  });
  if (it != held.end()) {
    if (outstanding_left != nullptr) {
      *outstanding_left = it->left;
    }
    held.erase(it);
  }
}

double DispatchCore::seconds_per_task(std::size_t worker) const {
  if (measured_[worker].second > 0) {
    return measured_[worker].first / static_cast<double>(measured_[worker].second);
  }
  double seconds = 0.0;
  TaskIndex tasks = 0;
  for (const auto& [s, n] : measured_) {
    seconds += s;
    tasks += n;
  }
  return tasks > 0 ? seconds / static_cast<double>(tasks) : -1.0;
}

void DispatchCore::received(int worker, TaskRange piece) {
  for (Held& h : held_.at(static_cast<std::size_t>(worker))) {
    if (h.range.contains(piece.begin)) {
      if (piece.begin == h.range.begin + h.received) {
        h.received = std::min(h.range.size(), h.received + piece.size());
      }
      return;
    }
  }
}

void DispatchCore::duplicates(TaskRange piece, std::span<const std::uint8_t> state, std::uint8_t done,
                              std::vector<TaskRange>& out) {
  for (Copy& c : copies_) {
    const TaskIndex begin = std::max(piece.begin, c.tail.begin);
    const TaskIndex end = std::min(piece.end, c.tail.end);
    for (TaskIndex p = begin; p < end; ++p) {
      const auto k = static_cast<std::size_t>(p - c.tail.begin);
      if (!c.claimed[k]) {
        c.claimed[k] = state[static_cast<std::size_t>(p - piece.begin)] == done;
      } else if (!out.empty() && out.back().end == p) {
        ++out.back().end;
      } else {
        out.push_back({p, p + 1});
      }
    }
  }
}

std::optional<TaskRange> DispatchCore::speculate(int idle, double now) {
  if (!speculate_ || dispatcher_.remaining() != 0 || finished()) {
    return std::nullopt;
  }
  // Every chunk a rank holds counts, queued ones too: a stalled rank answers no reclaim either.
  std::size_t straggler = held_.size();
  Held* original = nullptr;
  double worst = 1.0;
  for (std::size_t w = 0; w < held_.size(); ++w) {
    const double rate = seconds_per_task(w);
    if (static_cast<int>(w) == idle || !who_.reclaimable[w] || rate < 0) {
      continue;  // rank 0's thread and group masters are not copied from
    }
    for (Held& h : held_[w]) {
      if (h.twin >= 0 || h.copy || h.received >= h.range.size()) {
        continue;
      }
      const double expected = kSpeculateFactor * static_cast<double>(h.range.size()) * rate + kSpeculateSlack;
      const double overdue = (now - h.assigned) / expected;
      if (overdue > worst) {
        worst = overdue;
        straggler = w;
        original = &h;
      }
    }
  }
  if (original == nullptr) {
    return std::nullopt;
  }
  const TaskRange tail{original->range.begin + original->received, original->range.end};
  original->twin = idle;
  Held copy{tail, tail.size(), true, now};
  copy.twin = static_cast<int>(straggler);
  copy.copy = true;
  held_[static_cast<std::size_t>(idle)].push_back(copy);
  copies_.push_back({tail, idle, std::vector<bool>(tail.size(), false)});
  return tail;
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
      if (!it->asked && it->twin < 0 && it->left == it->range.size() &&
          (!best || it->range.size() > best->range.size())) {
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
  if (given_back && it->left == range.size() && it->twin < 0) {
    outstanding_ -= it->left;
    held.erase(it);
    dispatcher_.give_back(range);
    ++given_back_;
  } else {
    // Kept (started), or given back while a speculative copy of it runs: then the copy's results
    // complete it, exactly as if the holder had been overtaken, and it must stay counted until then.
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
