#pragma once

// taskfarm: the one header a kernel author includes.
//
// A kernel computes one task at a time from the task's parameter values (read by name) and writes
// its result fields (declared once, written through typed handles). taskfarm does the rest: the
// command line (run, resume, validate, inspect, verify, simulate), MPI scheduling, the HDF5 output,
// checkpoints, signals, retries and resume. See examples/oscillator for a complete project.
//
//   class Oscillator final : public taskfarm::Kernel {
//    public:
//     explicit Oscillator(taskfarm::Setup& setup)
//         : steps_(setup.settings().integer("steps", 1000)), x_(setup.field<double>("x", "m", "final position")) {}
//     void compute(taskfarm::Task& task) override { task.out(x_)[0] = ... task.param<double>("gamma") ...; }
//    private:
//     std::int64_t steps_;
//     taskfarm::Output<double> x_;
//   };
//   int main(int argc, char** argv) {
//     return taskfarm::main(argc, argv, {{"oscillator", "a damped oscillator", taskfarm::make<Oscillator>}});
//   }

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "taskfarm/core/error.hpp"

namespace taskfarm {

namespace detail {
class SetupImpl;
class TaskImpl;
}  // namespace detail
namespace job {
class Settings;
}  // namespace job

/// @brief Element type of a result field, as stored in HDF5 (text: see Setup::text_field).
enum class Type : std::uint8_t { u8, i32, u32, i64, u64, f32, f64, text };

/// @brief The Type of a C++ element type (for Setup::field<T>).
template <class T>
constexpr Type type_of() {
  static_assert(sizeof(T) == 0, "result fields hold uint8_t, int32_t, uint32_t, int64_t, uint64_t, float or double");
  return Type::f64;
}
template <>
constexpr Type type_of<std::uint8_t>() { return Type::u8; }
template <>
constexpr Type type_of<std::int32_t>() { return Type::i32; }
template <>
constexpr Type type_of<std::uint32_t>() { return Type::u32; }
template <>
constexpr Type type_of<std::int64_t>() { return Type::i64; }
template <>
constexpr Type type_of<std::uint64_t>() { return Type::u64; }
template <>
constexpr Type type_of<float>() { return Type::f32; }
template <>
constexpr Type type_of<double>() { return Type::f64; }

/// @brief A typed handle to a declared result field: what Task::out() takes. Cheap to copy.
template <class T>
class Output {
 public:
  Output() = default;
  [[nodiscard]] std::size_t index() const noexcept { return index_; }
  [[nodiscard]] std::size_t values_per_task() const noexcept { return values_; }

 private:
  friend class Setup;
  Output(std::size_t index, std::size_t values) : index_(index), values_(values) {}
  std::size_t index_ = static_cast<std::size_t>(-1);  // a handle never declared: Task::out() throws
  std::size_t values_ = 0;
};

/// @brief A handle to a declared text field: what Task::set_text() takes. Cheap to copy.
class TextOutput {
 public:
  TextOutput() = default;
  [[nodiscard]] std::size_t index() const noexcept { return index_; }
  /// @brief The most bytes of UTF-8 one task's text holds.
  [[nodiscard]] std::size_t max_bytes() const noexcept { return bytes_; }

 private:
  friend class Setup;
  TextOutput(std::size_t index, std::size_t bytes) : index_(index), bytes_(bytes) {}
  std::size_t index_ = static_cast<std::size_t>(-1);
  std::size_t bytes_ = 0;
};

/// @brief A typed handle to a parameter axis, resolved once by Setup::param<T>(name): Task::param()
/// reads a task's value through it without a name lookup. Cheap to copy.
template <class T>
class Param {
 public:
  Param() = default;
  [[nodiscard]] std::size_t axis() const noexcept { return axis_; }

 private:
  friend class Setup;
  explicit Param(std::size_t axis) : axis_(axis) {}
  std::size_t axis_ = static_cast<std::size_t>(-1);  // a handle never resolved: Task::param() throws
};

/// @brief The kind of a parameter axis, for Setup::require_param.
enum class ParamKind { integer, real, number, text };  // number: integer or real

/// @brief The job's `[app]` table: typed values with defaults. Every key a kernel does not read is
/// refused after set-up as a likely typo; a bad value is one line naming file, line and key
/// (fail()), exit code 2, before any rank computes.
class Settings {
 public:
  Settings(const Settings&) = delete;  // a view of the job, valid during the kernel's constructor:
  Settings& operator=(const Settings&) = delete;  // read what you need there, keep values, not this
  [[nodiscard]] bool has(std::string_view key) const;
  [[nodiscard]] std::int64_t integer(std::string_view key, std::optional<std::int64_t> fallback = {}) const;
  [[nodiscard]] double real(std::string_view key, std::optional<double> fallback = {}) const;
  [[nodiscard]] bool flag(std::string_view key, std::optional<bool> fallback = {}) const;
  [[nodiscard]] std::string text(std::string_view key, std::optional<std::string> fallback = {}) const;
  [[nodiscard]] std::vector<double> reals(std::string_view key, std::optional<std::vector<double>> fallback = {}) const;
  [[nodiscard]] std::vector<std::string> texts(std::string_view key,
                                               std::optional<std::vector<std::string>> fallback = {}) const;
  /// @brief A file the kernel reads: no job may write its output over it.
  [[nodiscard]] std::string input_path(std::string_view key) const;
  /// @brief Throws InputError "file:line: [app] key: message".
  [[noreturn]] void fail(std::string_view key, std::string_view message) const;

 private:
  friend class Setup;
  friend class job::Settings;  // job::Settings::view()
  explicit Settings(const job::Settings& impl) : impl_(impl) {}
  const job::Settings& impl_;
};

/// @brief What a kernel's constructor gets, once per rank: the settings, the parameter axes, the
/// rank and the threads a task may use; where the kernel declares its result fields.
class Setup {
 public:
  Setup(const Setup&) = delete;  // valid only during the kernel's constructor
  Setup& operator=(const Setup&) = delete;
  /// @brief The job's `[app]` settings.
  [[nodiscard]] const Settings& settings() const noexcept { return settings_; }
  /// @brief This process's MPI rank (per-rank state: build it in the constructor, once).
  [[nodiscard]] int rank() const noexcept;
  /// @brief Threads one task may use: `[job] threads_per_task`, else an OMP_NUM_THREADS exported to
  /// the job, else 1. Pass it on yourself (`#pragma omp parallel num_threads(n)`, a pool's size):
  /// OpenMP reads its variables once at start-up. Run ranks x threads <= cores (see the README).
  [[nodiscard]] int threads() const noexcept;

  /// @brief Declares a result field /results/NAME, `shape` values of T per task (empty: one).
  template <class T>
  Output<T> field(std::string name, std::vector<std::uint64_t> shape, std::string unit = {},
                  std::string description = {}) {
    std::uint64_t values = 1;
    for (auto d : shape) {
      values *= d;
    }
    const std::size_t index = declare(std::move(name), type_of<T>(), std::move(shape), std::move(unit),
                                      std::move(description));
    return Output<T>(index, static_cast<std::size_t>(values));
  }
  /// @brief Declares a scalar result field /results/NAME of type T.
  template <class T>
  Output<T> field(std::string name, std::string unit = {}, std::string description = {}) {
    return field<T>(std::move(name), {}, std::move(unit), std::move(description));
  }

  /// @brief Declares a text field /results/NAME: up to `max_bytes` bytes of UTF-8 per task, stored
  /// as one fixed-length string per task (h5py: `ds.asstr()`, xarray and pandas read str).
  TextOutput text_field(std::string name, std::size_t max_bytes, std::string description = {}) {
    const std::size_t index = declare(std::move(name), Type::text, {max_bytes}, {}, std::move(description));
    return TextOutput(index, max_bytes);
  }

  /// @brief When the job file has no [params]: its tasks are one integer axis `name` taking the
  /// values begin, begin + 1, ..., end - 1 (an image's rows, a list's entries). Call it before
  /// param() and tasks(); a job that has [params] keeps them.
  void default_params(std::string name, std::int64_t begin, std::int64_t end);
  /// @brief The number of tasks in the job.
  [[nodiscard]] std::uint64_t tasks() const noexcept;
  /// @brief True when the job has a parameter axis of that name.
  [[nodiscard]] bool has_param(std::string_view name) const;
  /// @brief The names of the job's parameter axes, in the job's order (to refuse axes a kernel
  /// would silently ignore).
  [[nodiscard]] std::vector<std::string> param_names() const;
  /// @brief The kind of axis `name` (integer, real or text); InputError naming the job file when
  /// there is no such axis.
  [[nodiscard]] ParamKind param_kind(std::string_view name) const;
  /// @brief Refuses the job (InputError naming the job file) unless it has an axis `name` of `kind`.
  void require_param(std::string_view name, ParamKind kind) const;
  /// @brief A handle to axis `name` for Task::param(). Refuses the job (InputError naming the job
  /// file) unless the axis exists and T can hold its values: double (integer or real axes),
  /// std::int64_t (integer axes), int (integer axes whose values fit), std::string (text axes).
  template <class T>
  [[nodiscard]] Param<T> param(std::string_view name) const {
    return Param<T>(resolve(name, kind_for<T>()));
  }
  /// @brief The smallest and largest value of a numeric axis (to refuse a job whose values a kernel
  /// cannot use, with fail_param).
  template <class T>
  [[nodiscard]] std::pair<T, T> bounds(const Param<T>& axis) const {
    static_assert(std::is_arithmetic_v<T>, "bounds() of a text axis");
    if constexpr (std::is_floating_point_v<T>) {
      return real_bounds(axis.axis());
    } else {
      const auto [lo, hi] = integer_bounds(axis.axis());
      return {static_cast<T>(lo), static_cast<T>(hi)};
    }
  }
  /// @brief Throws InputError "file: [params] name: message".
  [[noreturn]] void fail_param(std::string_view name, std::string_view message) const;

 private:
  friend class detail::SetupImpl;
  explicit Setup(detail::SetupImpl& impl);
  std::size_t declare(std::string name, Type type, std::vector<std::uint64_t> shape, std::string unit,
                      std::string description);
  enum class Holds { real, integer, int32, text };
  template <class T>
  static constexpr Holds kind_for() {
    if constexpr (std::is_same_v<T, double>) {
      return Holds::real;
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
      return Holds::integer;
    } else if constexpr (std::is_same_v<T, int>) {
      return Holds::int32;
    } else if constexpr (std::is_same_v<T, std::string>) {
      return Holds::text;
    } else {
      static_assert(sizeof(T) == 0, "param<T>: T is double, std::int64_t, int or std::string");
      return Holds::real;
    }
  }
  [[nodiscard]] std::size_t resolve(std::string_view name, Holds holds) const;
  [[nodiscard]] std::pair<double, double> real_bounds(std::size_t axis) const;
  [[nodiscard]] std::pair<std::int64_t, std::int64_t> integer_bounds(std::size_t axis) const;
  detail::SetupImpl& impl_;
  Settings settings_;
};

/// @brief One task, as compute() sees it: its index, its parameter values by name, its outputs.
class Task {
 public:
  Task(const Task&) = delete;  // valid only during compute()
  Task& operator=(const Task&) = delete;
  /// @brief The task's index in the job (stable across runs, resumes and rank counts).
  [[nodiscard]] std::uint64_t index() const noexcept { return index_; }
  /// @brief The value of parameter `name`: double (integer or real axes), std::int64_t or int
  /// (integer axes), std::string (text axes). A missing name or a mismatched kind throws Error,
  /// which fails this task with a message naming the axis (use Setup::require_param to refuse
  /// such a job before it starts).
  template <class T>
  [[nodiscard]] T param(std::string_view name) const {
    if constexpr (std::is_same_v<T, double>) {
      return real_param(name);
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
      return integer_param(name);
    } else if constexpr (std::is_same_v<T, int>) {
      return int_param(name);
    } else {
      static_assert(std::is_same_v<T, std::string>, "param<T>: T is double, std::int64_t, int or std::string");
      return text_param(name);
    }
  }
  /// @brief The value of a parameter through a handle from Setup::param<T>: no lookup, no check
  /// beyond the handle's own (the job was checked when the handle was made).
  template <class T>
  [[nodiscard]] T param(const Param<T>& axis) const {
    if constexpr (std::is_same_v<T, double>) {
      return real_at(axis.axis());
    } else if constexpr (std::is_same_v<T, std::string>) {
      return text_at(axis.axis());
    } else {
      return static_cast<T>(integer_at(axis.axis()));
    }
  }
  /// @brief Which end of a text is kept when it is longer than its field.
  enum class Keep { head, tail };
  /// @brief Stores `text` in a text field: bytes that are not UTF-8 (and NUL) become U+FFFD, and a
  /// text longer than the field keeps its first or last max_bytes() bytes, cut between characters.
  /// Returns true when the whole text fitted.
  bool set_text(const TextOutput& field, std::string_view text, Keep keep = Keep::head) const;
  /// @brief Non-zero when the job is stopping and tasks in progress should be cut short: the signal
  /// that asked it to (SIGTERM, SIGINT, SIGUSR1: Slurm's notice before the time limit), or -1 when
  /// a failure stopped a fail_fast job; else 0 (also when a deadline stops the job: tasks it let
  /// start may finish). A kernel that waits for something (a process, a file) polls it and throws
  /// Interrupted: the task stays pending for the resume instead of failing.
  [[nodiscard]] int stop_signal() const;

  /// @brief The task's values of a declared field (values_per_task() elements, pre-zeroed).
  template <class T>
  [[nodiscard]] std::span<T> out(const Output<T>& field) const {
    if (field.index() >= n_fields_) {
      undeclared_output();
    }
    return {reinterpret_cast<T*>(slots_[field.index()]), field.values_per_task()};
  }

 private:
  friend class detail::TaskImpl;
  Task(const detail::TaskImpl& impl, std::uint64_t index, std::byte* const* slots, std::size_t n_fields)
      : index_(index), slots_(slots), n_fields_(n_fields), impl_(impl) {}
  [[noreturn]] void undeclared_output() const;
  [[nodiscard]] double real_param(std::string_view name) const;
  [[nodiscard]] std::int64_t integer_param(std::string_view name) const;
  [[nodiscard]] int int_param(std::string_view name) const;  // an Error when the value does not fit
  [[nodiscard]] const std::string& text_param(std::string_view name) const;
  [[nodiscard]] double real_at(std::size_t axis) const;
  [[nodiscard]] std::int64_t integer_at(std::size_t axis) const;
  [[nodiscard]] const std::string& text_at(std::size_t axis) const;
  std::uint64_t index_;          // the hot accessors (index, out) are inline: a task may take
  std::byte* const* slots_;      // nanoseconds, and 10^7 of them run per second
  std::size_t n_fields_;
  const detail::TaskImpl& impl_;
};

/// @brief A computation over tasks, built by the app's factory on every rank (rank 0 may build it
/// more than once: to validate the job, then to compute, on another thread than the one that built
/// it; with `[job] slots = K`, K instances compute K tasks at once on K threads): keep the
/// constructor free of side effects. Throwing from compute() fails that task only (recorded in
/// /failures, retried; TaskFailed keeps what it wrote); the job goes on. Interrupted leaves it pending.
class Kernel {
 public:
  virtual ~Kernel() = default;
  /// @brief Computes one task: reads its parameters, writes every declared field.
  virtual void compute(Task& task) = 0;
  /// @brief True when a task's results depend only on its parameter values and the settings, not
  /// on its index: then a resume with an edited job may keep results of tasks that moved.
  [[nodiscard]] virtual bool results_follow_parameters() const { return false; }
  /// @brief What compute() would do for `task`, in one line, without doing it: `taskfarm validate
  /// --show N` and `run --dry-run` print it (a command's argv). Empty (the default): the task's
  /// parameter values are shown instead. Task::out() and set_text() must not be called here.
  [[nodiscard]] virtual std::string describe(const Task& task) const {
    (void)task;
    return {};
  }
};

/// @brief One app of an executable: `[job] app = "NAME"` selects it.
struct App {
  std::string name;
  std::string summary;
  std::function<std::unique_ptr<Kernel>(Setup&)> make;
  /// Its tasks act on the world (files, programs, services): a task must never run twice at once,
  /// so `[schedule] speculate = true` is refused for this app.
  bool side_effects = false;
};

/// @brief The factory of a kernel class constructible from Setup&: App{"name", "...", make<K>}.
template <class K>
std::unique_ptr<Kernel> make(Setup& setup) {
  return std::make_unique<K>(setup);
}

/// @brief The whole taskfarm command line over `apps`: run, resume, validate, inspect, verify,
/// simulate. Call it from main and return its value (the exit code).
int main(int argc, char** argv, std::vector<App> apps);

}  // namespace taskfarm
