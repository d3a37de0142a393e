#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "taskfarm/app/kernel.hpp"
#include "taskfarm/core/running_moments.hpp"
#include "taskfarm/core/tick_clock.hpp"
#include "taskfarm/core/task_range.hpp"
#include "taskfarm/farm/protocol.hpp"
#include "taskfarm/job/task_order.hpp"

namespace taskfarm::farm {

/// @brief Computes tasks with a kernel straight into a report, timing each task and turning a
/// kernel's exception into a failed task (the rest of the chunk goes on).
class ChunkRunner {
 public:
  /// @param stop when non-null and non-zero after a task, run() returns (a stop was requested)
  /// @param order maps the positions run() is given to the task indices the kernel computes
  ChunkRunner(app::Kernel& kernel, std::vector<std::size_t> field_bytes, const job::TaskOrder& order,
              const std::atomic<int>* stop = nullptr);

  /// @brief Computes the tasks at the positions of `part`, in order, until its end, until `deadline` (steady seconds)
  /// has passed, or until a stop is requested, after at least one task. Returns the first task not
  /// computed.
  TaskIndex run(TaskRange part, ReportBuilder& report, double deadline);

  /// @brief Timings of the tasks run since the last reset (a chunk's).
  [[nodiscard]] const RunningMoments& stats() const noexcept { return stats_; }
  void reset_stats() noexcept { stats_ = {}; }
  [[nodiscard]] std::uint64_t failures() const noexcept { return failures_; }

 private:
  /// Turns a piece's task times from ticks into seconds and adds them to stats_.
  void to_seconds(double* ticks, TaskIndex n);

  app::Kernel& kernel_;
  const job::TaskOrder& order_;
  std::vector<std::size_t> field_bytes_;
  std::vector<std::byte*> slots_;
  const std::atomic<int>* stop_;
  TickCalibration calibration_;
  RunningMoments stats_;
  std::uint64_t failures_ = 0;
};

}  // namespace taskfarm::farm
