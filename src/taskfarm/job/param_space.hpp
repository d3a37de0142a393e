#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "taskfarm/core/task_range.hpp"

namespace taskfarm::job {

/// @brief One parameter axis: its name and an ordered list of values, generated lazily so that an
/// axis of 10^9 integers costs nothing.
class Axis {
 public:
  enum class Kind { integer, real, text };

  /// @brief start, start+step, ... while < stop (step > 0) or > stop (step < 0), like Python's range.
  static Axis integer_range(std::string name, std::int64_t start, std::int64_t stop, std::int64_t step = 1);
  /// @brief n values from a to b inclusive, evenly spaced (numpy.linspace).
  static Axis linspace(std::string name, double a, double b, std::uint64_t n);
  /// @brief 10^v for v in linspace(a, b, n) (numpy.logspace).
  static Axis logspace(std::string name, double a, double b, std::uint64_t n);
  static Axis list(std::string name, std::vector<std::int64_t> values);
  static Axis list(std::string name, std::vector<double> values);
  static Axis list(std::string name, std::vector<std::string> values);

  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] Kind kind() const noexcept { return kind_; }
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

  /// @brief i-th value of an integer axis.
  [[nodiscard]] std::int64_t integer_at(std::uint64_t i) const;
  /// @brief Smallest and largest value of an integer axis: O(1) for ranges, a scan for lists.
  [[nodiscard]] std::pair<std::int64_t, std::int64_t> integer_bounds() const;
  /// @brief Smallest and largest value of a numeric axis, as reals.
  [[nodiscard]] std::pair<double, double> real_bounds() const;
  /// @brief i-th value as a real (integer axes convert).
  [[nodiscard]] double real_at(std::uint64_t i) const;
  /// @brief i-th value of a text axis.
  [[nodiscard]] const std::string& text_at(std::uint64_t i) const;
  /// @brief i-th value rendered for humans, whatever the kind.
  [[nodiscard]] std::string format_at(std::uint64_t i) const;
  /// @brief Short description, e.g. "range(0, 600, 1)" or "list of 3 strings".
  [[nodiscard]] std::string describe() const;

 private:
  enum class Generator { range, linspace, logspace, list };
  Axis(std::string name, Kind kind, Generator gen, std::uint64_t size)
      : name_(std::move(name)), kind_(kind), gen_(gen), size_(size) {}

  std::string name_;
  Kind kind_;
  Generator gen_;
  std::uint64_t size_;
  std::int64_t start_ = 0;
  std::int64_t step_ = 1;
  double a_ = 0.0;
  double b_ = 0.0;
  double real_step_ = 0.0;
  std::vector<std::int64_t> integers_;
  std::vector<double> reals_;
  std::vector<std::string> texts_;
};

/// @brief How axes combine into tasks.
enum class Combine {
  product,  ///< cartesian product, first axis slowest (C order)
  zip,      ///< i-th task takes the i-th value of every axis; all axes the same length
};

/// @brief Maps a task index to parameter values and back.
class ParamSpace {
 public:
  ParamSpace() = default;
  /// @brief Throws InputError if zip axes differ in length or the product overflows 2^63.
  ParamSpace(std::vector<Axis> axes, Combine combine);

  [[nodiscard]] TaskIndex size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return axes_.empty(); }
  [[nodiscard]] Combine combine() const noexcept { return combine_; }
  [[nodiscard]] const std::vector<Axis>& axes() const noexcept { return axes_; }
  [[nodiscard]] std::optional<std::size_t> find(std::string_view name) const;

  /// @brief Index into axis `axis`'s values for task `task`.
  [[nodiscard]] std::uint64_t position(std::size_t axis, TaskIndex task) const noexcept {
    return combine_ == Combine::zip ? task : (task / strides_[axis]) % axes_[axis].size();
  }
  /// @brief Task index of the given per-axis positions (inverse of position()).
  [[nodiscard]] TaskIndex task_of(const std::vector<std::uint64_t>& positions) const;

  [[nodiscard]] std::int64_t integer(std::size_t axis, TaskIndex task) const {
    return axes_[axis].integer_at(position(axis, task));
  }
  [[nodiscard]] double real(std::size_t axis, TaskIndex task) const { return axes_[axis].real_at(position(axis, task)); }
  [[nodiscard]] const std::string& text(std::size_t axis, TaskIndex task) const {
    return axes_[axis].text_at(position(axis, task));
  }

 private:
  std::vector<Axis> axes_;
  Combine combine_ = Combine::product;
  std::vector<std::uint64_t> strides_;
  TaskIndex size_ = 0;
};

/// @brief Why `name` cannot name a parameter axis (an HDF5 dataset, a netCDF variable), or nothing.
std::optional<std::string> unusable_axis_name(std::string_view name);

/// @brief "No task": the target of a task that has no counterpart.
inline constexpr TaskIndex kNoTask = ~TaskIndex{0};

/// @brief Parameter identity between two versions of a job: for each task of `before`, the index
/// of the task of `after` with the same value on every axis (axes matched by name, integers and
/// reals compared as numbers, -0 equal to 0), or kNoTask. Each task of `after` is the target of at
/// most one task of `before` (repeated value tuples pair up in index order). When the two have
/// different sets of axis names, no task matches.
std::vector<TaskIndex> match_tasks(const ParamSpace& before, const ParamSpace& after);

}  // namespace taskfarm::job
