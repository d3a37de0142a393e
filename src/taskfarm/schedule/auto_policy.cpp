#include "taskfarm/schedule/auto_policy.hpp"

#include <algorithm>
#include <cmath>

namespace taskfarm::schedule {

namespace {

constexpr double kDifferRatio = 1.1;      // rule 2: means more than 10% apart...
constexpr double kDifferStdErrors = 3.0;  // ...and further apart than this many standard errors
constexpr double kMaxWeight = 2.0;        // rule 2: at most an even share R / P per chunk

}  // namespace

AutoPolicy::AutoPolicy(std::uint64_t n_tasks, int n_workers)
    : p_(static_cast<std::uint64_t>(n_workers)),
      cap_(detail::mfsc_chunk(n_tasks, n_workers)),
      batches_(n_workers),
      times_(static_cast<std::size_t>(n_workers)) {}

bool AutoPolicy::workers_differ() const {
  const TaskTimes* fastest = nullptr;
  const TaskTimes* slowest = nullptr;
  for (const TaskTimes& t : times_) {
    if (!t.measured()) {
      continue;
    }
    if (fastest == nullptr || t.mean() < fastest->mean()) {
      fastest = &t;
    }
    if (slowest == nullptr || t.mean() > slowest->mean()) {
      slowest = &t;
    }
  }
  if (fastest == nullptr || fastest == slowest) {
    return false;
  }
  const double std_error = std::sqrt(slowest->variance() / static_cast<double>(slowest->count()) +
                                     fastest->variance() / static_cast<double>(fastest->count()));
  return slowest->mean() > kDifferRatio * fastest->mean() &&
         slowest->mean() - fastest->mean() > kDifferStdErrors * std_error;
}

std::uint64_t AutoPolicy::next_size(std::uint64_t remaining, int worker) {
  detail::check_worker(worker, times_.size());
  const auto i = static_cast<std::size_t>(worker);
  if (!times_[i].measured()) {
    return std::min(detail::ceil_div(cap_, 2), batches_.take(remaining));  // rule 1
  }
  weighting_ = weighting_ || workers_differ();
  double factoring = 0.0;
  double cap = static_cast<double>(cap_);
  if (weighting_) {
    std::vector<double> seconds_per_task;
    std::vector<bool> measured;
    for (const TaskTimes& t : times_) {
      seconds_per_task.push_back(t.mean());
      measured.push_back(t.measured());
    }
    const double w = std::min(rate_weights(seconds_per_task, measured)[i], kMaxWeight);
    factoring = w * static_cast<double>(detail::ceil_div(remaining, 2 * p_));
    cap *= std::min(w, 1.0);
  } else {
    factoring = static_cast<double>(batches_.take(remaining));
  }
  const double af = adaptive_factoring_chunk(times_, worker, remaining);
  return detail::whole_chunk(std::min({factoring, cap, af}), remaining);  // rule 3
}

void AutoPolicy::observe(const ChunkReport& report) {
  detail::check_worker(report.worker, times_.size());
  times_[static_cast<std::size_t>(report.worker)].add(report.range.size(), report.task_mean, report.task_variance);
}

}  // namespace taskfarm::schedule
