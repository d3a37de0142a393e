#include "taskfarm/schedule/adaptive_policy.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"

namespace taskfarm::schedule {

namespace {

// Floor on a measured time per task: a chunk timed at 0 s (clock resolution) must not make a
// worker infinitely fast.
constexpr double kMinTaskSeconds = 1e-9;

bool uses_batches(PolicyKind kind) {
  return kind == PolicyKind::awf || kind == PolicyKind::awf_b || kind == PolicyKind::awf_d;
}

bool times_overhead(PolicyKind kind) { return kind == PolicyKind::awf_d || kind == PolicyKind::awf_e; }

}  // namespace

void detail::check_worker(int worker, std::size_t n) {
  if (worker < 0 || static_cast<std::size_t>(worker) >= n) {
    throw Error(fmt::format("worker {} outside 0..{}", worker, n - 1));
  }
}

void WorkerRate::add(std::uint64_t tasks, double seconds) {
  ++chunks_;
  const auto k = static_cast<double>(chunks_);
  weighted_seconds_ += k * std::max(seconds, 0.0);
  weighted_tasks_ += k * static_cast<double>(tasks);
}

double WorkerRate::seconds_per_task() const noexcept {
  return std::max(weighted_seconds_ / weighted_tasks_, kMinTaskSeconds);
}

void TaskTimes::add(std::uint64_t tasks, double mean, double variance) {
  if (tasks == 0) {
    return;
  }
  const auto na = static_cast<double>(n_);
  const auto nb = static_cast<double>(tasks);
  const double m2b = std::max(variance, 0.0) * (nb - 1.0);
  const double delta = mean - mean_;
  mean_ += delta * nb / (na + nb);
  m2_ += m2b + delta * delta * na * nb / (na + nb);
  n_ += tasks;
}

double TaskTimes::mean() const noexcept { return std::max(mean_, kMinTaskSeconds); }

double TaskTimes::variance() const noexcept { return n_ > 1 ? m2_ / static_cast<double>(n_ - 1) : 0.0; }

std::vector<double> rate_weights(const std::vector<double>& seconds_per_task, const std::vector<bool>& measured) {
  double slowest = 0.0;
  for (std::size_t j = 0; j < seconds_per_task.size(); ++j) {
    if (measured[j]) {
      slowest = std::max(slowest, seconds_per_task[j]);
    }
  }
  std::vector<double> rates;
  double sum = 0.0;
  for (std::size_t j = 0; j < seconds_per_task.size(); ++j) {
    rates.push_back(1.0 / (measured[j] ? seconds_per_task[j] : slowest));
    sum += rates.back();
  }
  for (double& r : rates) {
    r *= static_cast<double>(rates.size()) / sum;
  }
  return rates;
}

double adaptive_factoring_chunk(const std::vector<TaskTimes>& times, int worker, std::uint64_t remaining) {
  const TaskTimes* slowest = nullptr;
  for (const TaskTimes& t : times) {
    if (t.measured() && (slowest == nullptr || t.mean() > slowest->mean())) {
      slowest = &t;
    }
  }
  double d = 0.0;
  double inv_t = 0.0;
  for (const TaskTimes& t : times) {
    const TaskTimes& s = t.measured() ? t : *slowest;
    d += s.variance() / s.mean();
    inv_t += 1.0 / s.mean();
  }
  // (D + 2x - sqrt(D^2 + 4Dx)) / (2 mu_i) with x = TR, rewritten as 2x^2 / (mu_i (D + 2x + sqrt(...)))
  // (multiply by the conjugate): the same value without cancellation when D >> x.
  const double x = static_cast<double>(remaining) / inv_t;
  const double mu = times[static_cast<std::size_t>(worker)].mean();
  return 2.0 * x * x / (mu * (d + 2.0 * x + std::sqrt(d * d + 4.0 * d * x)));
}

AdaptiveWeightedFactoringPolicy::AdaptiveWeightedFactoringPolicy(PolicyKind kind, int n_workers,
                                                                 const std::vector<double>& initial_weights)
    : kind_(kind),
      p_(static_cast<std::uint64_t>(n_workers)),
      batches_(n_workers),
      initial_(detail::normalized_weights(initial_weights, static_cast<std::size_t>(n_workers))),
      rates_(static_cast<std::size_t>(n_workers)) {}

std::vector<double> AdaptiveWeightedFactoringPolicy::current_weights() const {
  std::vector<double> spt;
  std::vector<bool> measured;
  for (const WorkerRate& r : rates_) {
    measured.push_back(r.measured());
    spt.push_back(r.measured() ? r.seconds_per_task() : 0.0);
  }
  return rate_weights(spt, measured);
}

std::uint64_t AdaptiveWeightedFactoringPolicy::next_size(std::uint64_t remaining, int worker) {
  detail::check_worker(worker, rates_.size());
  const auto i = static_cast<std::size_t>(worker);
  if (!rates_[i].measured()) {
    return detail::whole_chunk(initial_[i] * static_cast<double>(batches_.take(remaining)), remaining);
  }
  const double base = static_cast<double>(uses_batches(kind_) ? batches_.take(remaining)
                                                              : detail::ceil_div(remaining, 2 * p_));
  double weight = 0.0;
  if (kind_ == PolicyKind::awf) {
    if (frozen_.empty() || frozen_batch_ != batches_.batch()) {
      frozen_ = current_weights();
      frozen_batch_ = batches_.batch();
    }
    weight = frozen_[i];
  } else {
    weight = current_weights()[i];
  }
  return detail::whole_chunk(weight * base, remaining);
}

void AdaptiveWeightedFactoringPolicy::observe(const ChunkReport& report) {
  detail::check_worker(report.worker, rates_.size());
  if (report.range.empty()) {
    return;
  }
  const double seconds = report.compute_seconds + (times_overhead(kind_) ? report.overhead_seconds : 0.0);
  rates_[static_cast<std::size_t>(report.worker)].add(report.range.size(), seconds);
}

AdaptiveFactoringPolicy::AdaptiveFactoringPolicy(std::uint64_t n_tasks, int n_workers)
    : cap_(std::max<std::uint64_t>(1, detail::ceil_div(n_tasks, 2 * static_cast<std::uint64_t>(n_workers)))),
      batches_(n_workers),
      times_(static_cast<std::size_t>(n_workers)) {}

std::uint64_t AdaptiveFactoringPolicy::next_size(std::uint64_t remaining, int worker) {
  detail::check_worker(worker, times_.size());
  if (!times_[static_cast<std::size_t>(worker)].measured()) {
    return batches_.take(remaining);
  }
  return std::min(cap_, detail::whole_chunk(adaptive_factoring_chunk(times_, worker, remaining), remaining));
}

void AdaptiveFactoringPolicy::observe(const ChunkReport& report) {
  detail::check_worker(report.worker, times_.size());
  times_[static_cast<std::size_t>(report.worker)].add(report.range.size(), report.task_mean, report.task_variance);
}

}  // namespace taskfarm::schedule
