#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "taskfarm/core/task_range.hpp"
#include "taskfarm/taskfarm.hpp"

namespace taskfarm::app {

/// @brief Task costs of the dynamic-loop-scheduling literature's synthetic workloads: drawn per task
/// index from a seeded counter-based generator, so a task's cost depends on nothing but (seed, index).
class CostModel {
 public:
  enum class Distribution { constant, uniform, normal, exponential, lognormal, gamma, bimodal, increasing,
                            decreasing, table };

  /// @brief Reads `[app]` (distribution, mean_ms, spread, seed, heavy_fraction, heavy_ratio,
  /// costs_file, replay); validation errors name the key.
  static CostModel from_settings(const taskfarm::Settings& settings, TaskIndex n_tasks);

  /// @brief Seconds task `task` costs.
  [[nodiscard]] double seconds(TaskIndex task) const { return seconds(task, mean_, spread_, seed_); }
  /// @brief Seconds task `task` costs with this mean (s), spread and seed instead of the model's
  /// (a parameter sweep over the model's own settings).
  [[nodiscard]] double seconds(TaskIndex task, double mean, double spread, std::uint64_t seed) const;

  [[nodiscard]] Distribution distribution() const noexcept { return dist_; }
  [[nodiscard]] double mean() const noexcept { return mean_; }
  [[nodiscard]] double spread() const noexcept { return spread_; }
  [[nodiscard]] std::uint64_t seed() const noexcept { return seed_; }

  /// @brief splitmix64 (Steele, Lea & Flood 2014): the per-task stream's seed and step.
  static std::uint64_t splitmix64(std::uint64_t& state) noexcept;

 private:
  Distribution dist_ = Distribution::constant;
  double mean_ = 0.0;    // seconds
  double spread_ = 0.0;  // meaning depends on the distribution
  std::uint64_t seed_ = 1;
  double heavy_fraction_ = 0.1;
  double heavy_ratio_ = 10.0;
  TaskIndex n_tasks_ = 1;
  std::shared_ptr<const std::vector<double>> table_;  // seconds, for costs_file / replay
};

}  // namespace taskfarm::app
