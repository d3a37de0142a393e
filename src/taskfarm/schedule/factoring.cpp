#include "taskfarm/schedule/factoring.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace taskfarm::schedule::detail {

std::uint64_t whole_chunk(double size, std::uint64_t remaining) {
  if (std::isnan(size) || size >= static_cast<double>(remaining)) {
    return remaining;
  }
  if (size <= 1.0) {
    return 1;
  }
  const double nearest = std::round(size);
  const double up = std::abs(size - nearest) <= 1e-9 * size ? nearest : std::ceil(size);
  return static_cast<std::uint64_t>(up);
}

std::uint64_t FactoringBatches::take(std::uint64_t remaining, double ratio) {
  if (left_in_batch_ == 0) {
    batch_ += started_ ? 1 : 0;
    started_ = true;
    chunk_ = ratio <= 2.0 ? ceil_div(remaining, 2 * p_)
                          : whole_chunk(static_cast<double>(remaining) / (ratio * static_cast<double>(p_)), remaining);
    left_in_batch_ = p_;
  }
  --left_in_batch_;
  return chunk_;
}

double factoring_ratio(double cov, int p, std::uint64_t remaining) {
  if (!(cov > 0.0) || remaining == 0) {
    return 2.0;  // no spread measured (or NaN): FAC2
  }
  const double b = static_cast<double>(p) * cov / (2.0 * std::sqrt(static_cast<double>(remaining)));
  return 2.0 + b * b + b * std::sqrt(b * b + 4.0);
}

std::uint64_t mfsc_chunk(std::uint64_t n, int p) {
  FactoringBatches batches(p);
  std::uint64_t count = 0;
  for (std::uint64_t r = n; r > 0; ++count) {
    r -= std::min(batches.take(r), r);
  }
  return n == 0 ? 1 : ceil_div(n, count);
}

std::vector<double> normalized_weights(const std::vector<double>& weights, std::size_t n) {
  if (weights.empty()) {
    return std::vector<double>(n, 1.0);
  }
  const double sum = std::accumulate(weights.begin(), weights.end(), 0.0);
  std::vector<double> out;
  out.reserve(weights.size());
  for (double w : weights) {
    out.push_back(w * static_cast<double>(n) / sum);
  }
  return out;
}

}  // namespace taskfarm::schedule::detail
