#include "taskfarm/schedule/policy.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/schedule/adaptive_policy.hpp"
#include "taskfarm/schedule/auto_policy.hpp"
#include "taskfarm/schedule/factoring.hpp"

namespace taskfarm::schedule {

namespace {

using detail::ceil_div;
using detail::whole_chunk;

/// Static block scheduling: each worker takes one block of ceil(N/P) tasks, once.
class StaticPolicy final : public Policy {
 public:
  StaticPolicy(std::uint64_t n, int p) : block_(ceil_div(n, static_cast<std::uint64_t>(p))) {}
  std::uint64_t next_size(std::uint64_t /*remaining*/, int worker) override {
    return served_.insert(worker).second ? block_ : 0;
  }

 private:
  std::uint64_t block_;
  std::set<int> served_;
};

/// Self-scheduling (Tang & Yew 1986): one task per request.
class SelfSchedulingPolicy final : public Policy {
 public:
  std::uint64_t next_size(std::uint64_t /*remaining*/, int /*worker*/) override { return 1; }
};

/// Fixed-size chunking (Kruskal & Weiss 1985): every chunk has the same size k.
class FixedSizePolicy final : public Policy {
 public:
  explicit FixedSizePolicy(std::uint64_t k) : k_(k) {}
  std::uint64_t next_size(std::uint64_t /*remaining*/, int /*worker*/) override { return k_; }

 private:
  std::uint64_t k_;
};

/// Kruskal & Weiss 1985 (IEEE TSE 11(10), "Allocating independent subtasks on parallel
/// processors"), optimal fixed chunk: k = (sqrt(2) N h / (sigma P sqrt(ln P)))^(2/3).
/// Capped at ceil(N/P): a larger chunk leaves a worker idle. One worker: one chunk (k -> inf as P -> 1).
std::uint64_t kruskal_weiss_chunk(std::uint64_t n, int p, double h, double sigma) {
  const auto share = ceil_div(n, static_cast<std::uint64_t>(p));
  if (p < 2) {
    return n;
  }
  const double pd = static_cast<double>(p);
  const double x = std::sqrt(2.0) * static_cast<double>(n) * h / (sigma * pd * std::sqrt(std::log(pd)));
  return whole_chunk(std::pow(x, 2.0 / 3.0), share);
}

/// Guided self-scheduling (Polychronopoulos & Kuck 1987): chunk = ceil(R / P), R = remaining tasks.
class GuidedPolicy final : public Policy {
 public:
  explicit GuidedPolicy(int p) : p_(static_cast<std::uint64_t>(p)) {}
  std::uint64_t next_size(std::uint64_t remaining, int /*worker*/) override { return ceil_div(remaining, p_); }

 private:
  std::uint64_t p_;
};

/// Trapezoid self-scheduling (Tzen & Ni 1993, IEEE TPDS 4(1)): chunks fall linearly from F to L over
/// n = ceil(2N / (F + L)) chunks, step delta = (F - L) / (n - 1); defaults F = ceil(N / 2P), L = 1.
/// Chunk k (0-based, whoever asks) is ceil(F - k delta) = F - floor(k (F - L) / (n - 1)), exact in
/// integers; the sizes sum to at least N, so the last chunk is clipped rather than missing.
class TrapezoidPolicy final : public Policy {
 public:
  TrapezoidPolicy(std::uint64_t n, int p, std::uint64_t first, std::uint64_t last)
      : last_(last == 0 ? 1 : last),
        first_(std::max(first == 0 ? ceil_div(n, 2 * static_cast<std::uint64_t>(p)) : first, last_)),
        steps_(ceil_div(2 * n, first_ + last_)) {}
  std::uint64_t next_size(std::uint64_t /*remaining*/, int /*worker*/) override {
    if (steps_ <= 1 || k_ >= steps_) {
      return k_++ == 0 ? first_ : last_;
    }
    return first_ - k_++ * (first_ - last_) / (steps_ - 1);
  }

 private:
  std::uint64_t last_;
  std::uint64_t first_;
  std::uint64_t steps_;
  std::uint64_t k_ = 0;  // chunks handed out so far
};

/// Factoring, FAC2 (Hummel, Schonberg & Flynn 1992): batches of P equal chunks; each batch hands
/// out half of the tasks remaining at its start, chunk = ceil(R_j / (2P)).
class FactoringPolicy final : public Policy {
 public:
  explicit FactoringPolicy(int p) : batches_(p) {}
  std::uint64_t next_size(std::uint64_t remaining, int /*worker*/) override { return batches_.take(remaining); }

 private:
  detail::FactoringBatches batches_;
};

/// Factoring, FAC (Hummel, Schonberg & Flynn 1992) with the coefficient of variation of task times
/// measured from every report so far: batch j's chunk is ceil(R_j / (x_j P)), x_j = factoring_ratio.
/// The first batch, before any report, is FAC2's; on regular work x stays near 2 (FAC2), on
/// irregular work the last batches shrink to single tasks instead of FAC2's R_j / 2P. The paper
/// counts no cost per chunk: x is held where the chunk would take under kMinChunkSeconds (never
/// below FAC2's 2), so tiny tasks, whose measured spread is the clock's, get FAC2's chunk count.
class MeasuredFactoringPolicy final : public Policy {
 public:
  /// Expected seconds below which fac shrinks a chunk no further than FAC2 would: ~5x rank 0's
  /// service time per message measured on 2 cores (10-20 us).
  static constexpr double kMinChunkSeconds = 100e-6;

  explicit MeasuredFactoringPolicy(int p) : p_(p), batches_(p) {}
  std::uint64_t next_size(std::uint64_t remaining, int /*worker*/) override {
    double ratio = 2.0;
    if (times_.count() > 1) {
      const double mean = times_.mean();
      const double smallest = std::max(1.0, kMinChunkSeconds / mean);  // tasks in the smallest chunk worth a message
      ratio = std::clamp(detail::factoring_ratio(std::sqrt(times_.variance()) / mean, p_, remaining), 2.0,
                         std::max(2.0, static_cast<double>(remaining) / (static_cast<double>(p_) * smallest)));
    }
    return batches_.take(remaining, ratio);
  }
  void observe(const ChunkReport& report) override {
    times_.add(report.range.size(), report.task_mean, report.task_variance);
  }

 private:
  int p_;
  detail::FactoringBatches batches_;
  TaskTimes times_;  // every worker's tasks pooled: the spread factoring's b stands for
};

/// Weighted factoring (Hummel, Schmidt, Uma & Wein 1996, "Load-sharing in heterogeneous systems via
/// weighted factoring", SPAA): FAC2 batches, worker i's chunk = w_i ceil(R_j / 2P) with the weights
/// scaled to sum to P (as in DLS4LB and LB4OMP), so a batch still hands out about R_j / 2.
class WeightedFactoringPolicy final : public Policy {
 public:
  WeightedFactoringPolicy(int p, const std::vector<double>& weights)
      : batches_(p), weights_(detail::normalized_weights(weights, static_cast<std::size_t>(p))) {}
  std::uint64_t next_size(std::uint64_t remaining, int worker) override {
    return whole_chunk(weights_.at(static_cast<std::size_t>(worker)) * static_cast<double>(batches_.take(remaining)),
                       remaining);
  }

 private:
  detail::FactoringBatches batches_;
  std::vector<double> weights_;
};

struct NamedKind {
  std::string_view name;
  PolicyKind kind;
};

constexpr NamedKind kNames[] = {
    {"static", PolicyKind::static_block}, {"ss", PolicyKind::ss},
    {"self", PolicyKind::ss},             {"fsc", PolicyKind::fsc},
    {"fixed", PolicyKind::fsc},           {"mfsc", PolicyKind::mfsc},
    {"gss", PolicyKind::gss},             {"guided", PolicyKind::gss},
    {"tss", PolicyKind::tss},             {"trapezoid", PolicyKind::tss},
    {"fac2", PolicyKind::fac2},           {"factoring", PolicyKind::fac2},
    {"fac", PolicyKind::fac},
    {"wf", PolicyKind::wf},               {"weighted", PolicyKind::wf},
    {"awf", PolicyKind::awf},             {"awf-b", PolicyKind::awf_b},
    {"awf-c", PolicyKind::awf_c},         {"awf-d", PolicyKind::awf_d},
    {"awf-e", PolicyKind::awf_e},         {"af", PolicyKind::af},
    {"adaptive", PolicyKind::af},         {"auto", PolicyKind::automatic},
};

}  // namespace

std::optional<PolicyKind> parse_policy_kind(std::string_view name) {
  for (const auto& [n, k] : kNames) {
    if (n == name) {
      return k;
    }
  }
  return std::nullopt;
}

std::string_view policy_name(PolicyKind kind) {
  for (const auto& [n, k] : kNames) {
    if (k == kind) {
      return n;  // the first entry of each kind is its canonical name
    }
  }
  return "?";
}

std::string_view policy_names_help() {
  return "static, ss (self), fsc (fixed; needs chunk, or overhead_us and sigma_ms), mfsc, gss (guided), "
         "tss (trapezoid), fac2 (factoring), fac (the default), wf (weighted), awf, awf-b, awf-c, awf-d, awf-e, af (adaptive), auto";
}

void check_policy_fits(const PolicySpec& spec, int n_workers) {
  if (!spec.weights.empty() && spec.weights.size() != static_cast<std::size_t>(n_workers)) {
    throw InputError(fmt::format("[schedule] weights: {} weights given for {} computing ranks; give one per "
                                 "computing rank (ranks - 1, or all ranks when master_computes)",
                                 spec.weights.size(), n_workers));
  }
}

std::unique_ptr<Policy> make_policy(const PolicySpec& spec, std::uint64_t n_tasks, int n_workers) {
  if (n_workers < 1) {
    throw Error("a policy needs at least one worker");
  }
  check_policy_fits(spec, n_workers);
  switch (spec.kind) {
    case PolicyKind::static_block:
      return std::make_unique<StaticPolicy>(n_tasks, n_workers);
    case PolicyKind::ss:
      return std::make_unique<SelfSchedulingPolicy>();
    case PolicyKind::fsc:
      return std::make_unique<FixedSizePolicy>(
          spec.chunk != 0 ? spec.chunk
                          : kruskal_weiss_chunk(n_tasks, n_workers, spec.overhead_seconds, spec.sigma_seconds));
    case PolicyKind::mfsc:
      return std::make_unique<FixedSizePolicy>(detail::mfsc_chunk(n_tasks, n_workers));
    case PolicyKind::gss:
      return std::make_unique<GuidedPolicy>(n_workers);
    case PolicyKind::tss:
      return std::make_unique<TrapezoidPolicy>(n_tasks, n_workers, spec.first, spec.last);
    case PolicyKind::fac2:
      return std::make_unique<FactoringPolicy>(n_workers);
    case PolicyKind::fac:
      return std::make_unique<MeasuredFactoringPolicy>(n_workers);
    case PolicyKind::wf:
      return std::make_unique<WeightedFactoringPolicy>(n_workers, spec.weights);
    case PolicyKind::awf:
    case PolicyKind::awf_b:
    case PolicyKind::awf_c:
    case PolicyKind::awf_d:
    case PolicyKind::awf_e:
      return std::make_unique<AdaptiveWeightedFactoringPolicy>(spec.kind, n_workers, spec.weights);
    case PolicyKind::af:
      return std::make_unique<AdaptiveFactoringPolicy>(n_tasks, n_workers);
    case PolicyKind::automatic:
      return std::make_unique<AutoPolicy>(n_tasks, n_workers);
  }
  throw Error("unknown policy kind");
}

}  // namespace taskfarm::schedule
