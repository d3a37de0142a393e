#pragma once

#include <cstdint>

namespace taskfarm {

/// @brief Running count, mean and M2 of a sample: Welford (1962), as in Knuth TAOCP vol. 2, 4.2.2;
/// two samples merged by Chan, Golub & LeVeque (1979), "Updating formulae and a pairwise algorithm
/// for computing sample variances".
struct RunningMoments {
  std::uint64_t n = 0;
  double mean = 0.0;
  double m2 = 0.0;

  void add(double x) noexcept {
    ++n;
    const double d = x - mean;
    mean += d / static_cast<double>(n);
    m2 += d * (x - mean);
  }
  /// @brief Adds a sample of `nb` values with mean `mean_b` and M2 `m2_b`.
  void merge(std::uint64_t nb, double mean_b, double m2_b) noexcept {
    if (nb == 0) {
      return;
    }
    const std::uint64_t total = n + nb;
    const double d = mean_b - mean;
    mean += d * static_cast<double>(nb) / static_cast<double>(total);
    m2 += m2_b + d * d * static_cast<double>(n) * static_cast<double>(nb) / static_cast<double>(total);
    n = total;
  }
  /// @brief Sample variance (n - 1 in the denominator); 0 for fewer than two values.
  [[nodiscard]] double variance() const noexcept { return n > 1 ? m2 / static_cast<double>(n - 1) : 0.0; }
};

}  // namespace taskfarm
