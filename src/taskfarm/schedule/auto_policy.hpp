#pragma once

#include <cstdint>
#include <vector>

#include "taskfarm/schedule/adaptive_policy.hpp"
#include "taskfarm/schedule/factoring.hpp"
#include "taskfarm/schedule/policy.hpp"

namespace taskfarm::schedule {

/// @brief `auto`: factoring that never trusts one chunk with much of the work, and learns from reports.
///
/// The chunk for worker i with R tasks unassigned, in order (see schedule/README.md for the figures):
///
/// 0. Cap: never more than K = the mFSC chunk (N / number of FAC2 chunks, the average FAC2 chunk).
///    FAC2's first chunks of N / 2P are what ruin it when task costs cluster by index (a block of
///    expensive tasks) or a worker is slow; K costs at most about twice FAC2's chunk count.
/// 1. A worker that has not reported yet gets min(FAC2 chunk, ceil(K / 2)): FAC2 (Hummel, Schonberg &
///    Flynn 1992) needs no knowledge; the half-size first chunk is a probe, cheap if the worker is slow.
/// 2. Workers differ once the mean task times of the fastest and slowest measured worker are more
///    than 10% apart and further apart than 3 standard errors (a noisy first chunk is not a slow
///    node). From then on (for good: a FAC2 batch in progress cannot be resized) the factoring term
///    is AWF-C's (Cariño & Banicescu 2008), w_i ceil(R / 2P), w_i proportional to measured speed
///    and at most 2 (no more than an even share R / P at once: a worker that only drew cheap tasks
///    looks fast), and the cap becomes K min(w_i, 1). Before that the factoring term is FAC2's.
/// 3. The chunk is min(factoring term, cap, AF chunk): adaptive factoring (Banicescu & Liu 2000)
///    from every worker's task-time mean and variance. For P alike workers AF's chunk is below
///    FAC2's exactly when the measured coefficient of variation c has P^2 c^2 / R > 1/2, so it takes
///    over towards the end of irregular work and stays out of the way on regular work.
class AutoPolicy final : public Policy {
 public:
  AutoPolicy(std::uint64_t n_tasks, int n_workers);

  std::uint64_t next_size(std::uint64_t remaining, int worker) override;
  void observe(const ChunkReport& report) override;

  /// @brief True once rule 2 has seen the workers differ.
  [[nodiscard]] bool weighting() const noexcept { return weighting_; }

 private:
  [[nodiscard]] bool workers_differ() const;

  std::uint64_t p_;
  std::uint64_t cap_;  // K
  detail::FactoringBatches batches_;
  std::vector<TaskTimes> times_;
  bool weighting_ = false;
};

}  // namespace taskfarm::schedule
