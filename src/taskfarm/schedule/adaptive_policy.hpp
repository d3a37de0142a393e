#pragma once

#include <cstdint>
#include <vector>

#include "taskfarm/schedule/factoring.hpp"
#include "taskfarm/schedule/policy.hpp"

namespace taskfarm::schedule {

/// @brief One worker's speed as the AWF family measures it: seconds per task averaged over its
/// chunks, chunk k (1, 2, ...) weighted by k so that recent chunks count more (Banicescu, Velusamy
/// & Devaprasad 2003; the same weighting as DLS4LB and LB4OMP): sum_k k t_k / sum_k k s_k.
class WorkerRate {
 public:
  /// @brief Adds a finished chunk of `tasks` tasks that took `seconds`.
  void add(std::uint64_t tasks, double seconds);
  [[nodiscard]] bool measured() const noexcept { return weighted_tasks_ > 0.0; }
  /// @brief Weighted mean seconds per task (never below 1 ns, so a rate is always finite).
  [[nodiscard]] double seconds_per_task() const noexcept;

 private:
  std::uint64_t chunks_ = 0;
  double weighted_seconds_ = 0.0;
  double weighted_tasks_ = 0.0;
};

/// @brief Mean and variance of one worker's task times, pooled over every chunk it reported
/// (Chan, Golub & LeVeque 1979 pairwise update of count, mean and sum of squared deviations).
class TaskTimes {
 public:
  /// @brief Adds a chunk of `tasks` tasks with the given mean and sample variance of task seconds.
  void add(std::uint64_t tasks, double mean, double variance);
  [[nodiscard]] bool measured() const noexcept { return n_ > 0; }
  [[nodiscard]] std::uint64_t count() const noexcept { return n_; }
  /// @brief Mean seconds per task (never below 1 ns).
  [[nodiscard]] double mean() const noexcept;
  /// @brief Sample variance of seconds per task; 0 with fewer than two tasks.
  [[nodiscard]] double variance() const noexcept;

 private:
  std::uint64_t n_ = 0;
  double mean_ = 0.0;
  double m2_ = 0.0;
};

/// @brief Weights for `p` workers proportional to their measured rates (1 / seconds per task),
/// scaled to sum to p. A worker not measured yet counts as the slowest measured one (DLS4LB's
/// conservative choice). Needs at least one measured worker.
std::vector<double> rate_weights(const std::vector<double>& seconds_per_task, const std::vector<bool>& measured);

/// @brief Adaptive factoring's chunk for `worker` (Banicescu & Liu 2000): with mu_j, sigma_j^2 the
/// mean and variance of worker j's task times, D = sum_j sigma_j^2 / mu_j, T = 1 / sum_j (1 / mu_j),
/// chunk_i = (D + 2TR - sqrt(D^2 + 4DTR)) / (2 mu_i). Unmeasured workers count as the slowest
/// measured one. Needs `worker` to be measured.
double adaptive_factoring_chunk(const std::vector<TaskTimes>& times, int worker, std::uint64_t remaining);

/// @brief The AWF family: weighted factoring whose weights follow each worker's measured rate.
///
/// - awf   (Banicescu, Velusamy & Devaprasad 2003): weights are recomputed from all reports only
///         when a FAC2 batch opens and stay fixed within it (the paper updates them between time
///         steps; a single loop has none, so a batch plays the time step).
/// - awf-b (Cariño & Banicescu 2008): FAC2 batch chunk sizes, the asking worker's weight taken
///         from the latest reports at every request.
/// - awf-c (Cariño & Banicescu 2008): no batches; base chunk ceil(R / 2P) at every request.
/// - awf-d, awf-e: as b, c, timing each chunk from its assignment (overhead_seconds + compute_seconds)
///         instead of its computation alone.
/// A worker's chunk is ceil(w_i * base). Until the asking worker has reported a chunk it gets the
/// weighted FAC2 chunk with the configured (initial) weights, equal by default.
class AdaptiveWeightedFactoringPolicy final : public Policy {
 public:
  /// @param kind one of awf, awf_b, awf_c, awf_d, awf_e
  AdaptiveWeightedFactoringPolicy(PolicyKind kind, int n_workers, const std::vector<double>& initial_weights);

  std::uint64_t next_size(std::uint64_t remaining, int worker) override;
  void observe(const ChunkReport& report) override;

 private:
  std::vector<double> current_weights() const;

  PolicyKind kind_;
  std::uint64_t p_;
  detail::FactoringBatches batches_;
  std::vector<double> initial_;
  std::vector<WorkerRate> rates_;
  std::vector<double> frozen_;     // awf: weights of the batch in progress
  std::uint64_t frozen_batch_ = 0;  // awf: the batch frozen_ belongs to
};

/// @brief Adaptive factoring, AF (Banicescu & Liu 2000, "Analyzing the performance of adaptive
/// factoring", HPC Symposium): every chunk from adaptive_factoring_chunk() with per-worker task-time
/// statistics from the reports. Until the asking worker has reported, it gets a FAC2 chunk (its
/// first batch). Chunks are capped at ceil(N / 2P), FAC2's first chunk, as in Cariño's DLS4LB.
class AdaptiveFactoringPolicy final : public Policy {
 public:
  AdaptiveFactoringPolicy(std::uint64_t n_tasks, int n_workers);

  std::uint64_t next_size(std::uint64_t remaining, int worker) override;
  void observe(const ChunkReport& report) override;

 private:
  std::uint64_t cap_;
  detail::FactoringBatches batches_;
  std::vector<TaskTimes> times_;
};

namespace detail {
/// @brief Throws Error unless 0 <= worker < n.
void check_worker(int worker, std::size_t n);
}  // namespace detail

}  // namespace taskfarm::schedule
