#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "taskfarm/core/element_type.hpp"
#include "taskfarm/core/field.hpp"
#include "taskfarm/core/task_range.hpp"
#include "taskfarm/job/param_space.hpp"
#include "taskfarm/job/settings.hpp"

namespace taskfarm::app {

/// @brief One result field of a kernel (the same struct the output file uses for its columns).
using Field = taskfarm::Field;

/// @brief Where a kernel writes one task's results: one pointer per field, in schema order.
class TaskOutput {
 public:
  explicit TaskOutput(std::byte* const* slots) : slots_(slots) {}
  /// @brief Values of field `f` for this task (values_per_task() elements of the field's type).
  template <class T>
  [[nodiscard]] T* field(std::size_t f) const noexcept {
    return reinterpret_cast<T*>(slots_[f]);
  }
  /// @brief One pointer per field, in schema order.
  [[nodiscard]] std::byte* const* slots() const noexcept { return slots_; }

 private:
  std::byte* const* slots_;
};

/// @brief A computation over tasks. One instance per rank (and per computing thread); compute()
/// is called for each task of each chunk the rank receives. Throwing fails that task only.
class Kernel {
 public:
  virtual ~Kernel() = default;
  /// @brief The result fields, fixed for the whole job.
  [[nodiscard]] virtual std::vector<Field> schema() const = 0;
  /// @brief Computes task `task` and writes every field into `out` (pre-zeroed).
  virtual void compute(TaskIndex task, const TaskOutput& out) = 0;
  /// @brief True when a task's results depend on its parameter values (and the `[app]` settings)
  /// alone, not on its index: then a resume with an edited job may keep a result whose task moved
  /// to another index. False (the safe default) keeps a result only at its own index.
  [[nodiscard]] virtual bool results_follow_parameters() const { return false; }
  /// @brief What compute() would do for `task`, in one line (a command's argv); "" when the kernel
  /// has nothing to say beyond the task's parameters.
  [[nodiscard]] virtual std::string describe(TaskIndex task) const {
    (void)task;
    return {};
  }
};

/// @brief What a kernel factory gets: the job's `[app]` settings, its parameter space (which a
/// kernel may fill with defaults when the job file has no [params]) and the calling rank.
struct KernelContext {
  const job::Settings& settings;
  job::ParamSpace& params;
  int rank = 0;
  int threads = 1;  ///< threads one task may use ([job] threads_per_task, else OMP_NUM_THREADS, else 1)
  std::string source;  ///< the job file, for messages
  const std::atomic<int>* stop = nullptr;  ///< the job's stop flag (a signal number > 0, or < 0), when computing
  void (*poll_stop)() = nullptr;           ///< called before `stop` is read: hears a stop order sent to this rank
};

/// @brief Builds a kernel, validating the settings (job::Settings::fail for bad values).
using KernelFactory = std::function<std::unique_ptr<Kernel>(KernelContext& context)>;

}  // namespace taskfarm::app
