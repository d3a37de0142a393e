#pragma once

#include <cstdint>
#include <vector>

namespace taskfarm::schedule::detail {

/// @brief ceil(a / b) for b > 0.
constexpr std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

/// @brief A real chunk size rounded up to a whole number of tasks in [1, remaining].
///
/// Values within 1e-9 (relative) of an integer count as that integer, so that 0.5 * 2 * 13 is 13
/// and not 14 after rounding error; +inf and NaN (a worker measured at zero seconds) give remaining.
std::uint64_t whole_chunk(double size, std::uint64_t remaining);

/// @brief The batches of factoring (Hummel, Schonberg & Flynn 1992): a batch is P requests; when one
/// opens with R tasks unassigned, its chunks are ceil(R / (x P)). FAC2's x = 2 hands out half of R.
class FactoringBatches {
 public:
  explicit FactoringBatches(int n_workers) : p_(static_cast<std::uint64_t>(n_workers)) {}

  /// @brief Takes one request's place in the current batch, opening a new batch (sized from
  /// `remaining` and `ratio` x >= 2) when the last one is used up; returns the batch's chunk,
  /// ceil(R_j / 2P) for FAC2's x = 2.
  std::uint64_t take(std::uint64_t remaining, double ratio = 2.0);
  /// @brief Index of the batch the last take() fell into: 0, 1, ...
  [[nodiscard]] std::uint64_t batch() const noexcept { return batch_; }

 private:
  std::uint64_t p_;
  std::uint64_t chunk_ = 0;
  std::uint64_t left_in_batch_ = 0;
  std::uint64_t batch_ = 0;
  bool started_ = false;
};

/// @brief Factoring's batch ratio x_j for a batch opening with R_j tasks on P workers whose task
/// times have coefficient of variation c = sigma / mu (Hummel, Schonberg & Flynn 1992, CACM 35(8),
/// for batches j >= 1): x = 2 + b^2 + b sqrt(b^2 + 4), b = P c / (2 sqrt(R_j)). 2 (FAC2) at c = 0;
/// it grows as R_j shrinks, the more so the more irregular the tasks.
double factoring_ratio(double cov, int p, std::uint64_t remaining);

/// @brief Modified FSC (mFSC; Banicescu, Ciorba et al., DLS4LB and LB4OMP): the fixed chunk that gives
/// no more chunks than FAC2 would for n tasks on p workers, k = ceil(N / #FAC2 chunks), the FAC2
/// chunks counted exactly. DLS4LB uses the closed form round((N/P) ln 2 / ln(N/P)) of the same count
/// (about P log2(N/P) chunks).
std::uint64_t mfsc_chunk(std::uint64_t n, int p);

/// @brief Weights scaled to sum to n (so that equal weights are all 1); empty gives n ones.
std::vector<double> normalized_weights(const std::vector<double>& weights, std::size_t n);

}  // namespace taskfarm::schedule::detail
