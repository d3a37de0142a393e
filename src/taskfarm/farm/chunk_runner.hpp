#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "taskfarm/app/kernel.hpp"
#include "taskfarm/core/running_moments.hpp"
#include "taskfarm/core/tick_clock.hpp"
#include "taskfarm/core/task_range.hpp"
#include "taskfarm/farm/protocol.hpp"
#include "taskfarm/job/param_expression.hpp"
#include "taskfarm/job/task_order.hpp"

namespace taskfarm::farm {

/// @brief Walltime-aware start: a task expected to end after the job's allocation does is not
/// started; the rank stops the job cleanly instead (request_stop(kStopDeadline)), so that the
/// requeued job runs that task whole.
struct StartLimit {
  double end = std::numeric_limits<double>::infinity();  ///< steady seconds (now_seconds()) the job must end by
  std::optional<job::ParamExpression> expected;           ///< a task's expected wall seconds, by task index
  /// @brief True when task `task` may start at steady time `now`.
  [[nodiscard]] bool allows(TaskIndex task, double now) const {
    return !expected || now + expected->evaluate(task) <= end;
  }
  [[nodiscard]] bool active() const noexcept { return expected.has_value() && end < std::numeric_limits<double>::infinity(); }
};

/// @brief Computes tasks with a kernel straight into a report, timing each task and turning a
/// kernel's exception into a failed task (the rest of the chunk goes on). With several kernels
/// (`[job] slots`), as many tasks run at once, one per kernel, each on a thread of its own.
class ChunkRunner {
 public:
  /// @param kernels one kernel per slot (at least one), all of the same schema
  /// @param stop when non-null and non-zero after a task, run() returns (a stop was requested)
  /// @param order maps the positions run() is given to the task indices the kernel computes
  /// @param limit when non-null and active, tasks that would end after limit->end are not started
  ChunkRunner(std::vector<app::Kernel*> kernels, std::vector<std::size_t> field_bytes, const job::TaskOrder& order,
              const std::atomic<int>* stop = nullptr, const StartLimit* limit = nullptr);

  /// @brief Computes the tasks at the positions of `part`, in order, until its end, until `deadline`
  /// (steady seconds) has passed, or until a stop is requested, after at least one task unless the
  /// job is stopping (a task interrupted by the stop, or one the start limit refused, stays pending).
  /// Returns the first position not computed: everything before it is in the report.
  TaskIndex run(TaskRange part, ReportBuilder& report, double deadline);

  /// @brief Timings of the tasks run since the last reset (a chunk's).
  [[nodiscard]] const RunningMoments& stats() const noexcept { return stats_; }
  void reset_stats() noexcept { stats_ = {}; }
  [[nodiscard]] std::uint64_t failures() const noexcept { return failures_; }

 private:
  /// What became of one task.
  enum class Outcome { done, failed, kept_failed, interrupted };
  /// Runs one task into `slots` (pointers into the piece); a failure's message goes to `message`.
  Outcome compute(app::Kernel& kernel, TaskIndex position, std::vector<std::byte*>& slots, std::string& message);
  /// Several tasks at once, one per kernel: the lanes of `[job] slots`.
  TaskIndex run_lanes(TaskRange part, ReportBuilder& report, double deadline);
  /// Adds a piece's task seconds to stats_.
  void add_stats(const double* seconds, TaskIndex n);
  /// True when the job is stopping: a signal, fail_fast, or a deadline.
  [[nodiscard]] bool stopping() const noexcept {
    return stop_ != nullptr && stop_->load(std::memory_order_relaxed) != 0;
  }
  /// True (and the job asked to stop) when task `position` must not start now.
  bool refused_by_limit(TaskIndex position);

  std::vector<app::Kernel*> kernels_;
  const job::TaskOrder& order_;
  std::vector<std::size_t> field_bytes_;
  std::vector<std::byte*> slots_;
  const std::atomic<int>* stop_;
  const StartLimit* limit_;
  TickCalibration calibration_;
  RunningMoments stats_;
  std::uint64_t failures_ = 0;
};

}  // namespace taskfarm::farm
