#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "taskfarm/core/task_range.hpp"
#include "taskfarm/job/param_space.hpp"

namespace taskfarm::job {

/// @brief The `[schedule] order` setting: in which sequence tasks are handed out.
struct OrderSpec {
  enum class Kind {
    index,       ///< task 0 first (the default)
    reverse,     ///< task n-1 first
    ascending,   ///< "by:<expression>": smallest value first
    descending,  ///< "cost:<expression>": largest value (most expensive task) first
  };
  Kind kind = Kind::index;
  std::string expression;  ///< for ascending and descending
  std::string where;       ///< "file:line: [schedule] order", for messages

  /// @brief As written in a job file: "index", "reverse", "by:x", "cost:x".
  [[nodiscard]] std::string text() const;
};

/// @brief Parses an order setting; InputError (prefixed by `where`) when it is none of the forms.
OrderSpec parse_order(const std::string& text, const std::string& where);

/// @brief Throws InputError (prefixed by the spec's `where`) unless the order's expression parses
/// against `params` (names only numeric parameters, well formed). The registry calls this once a
/// kernel has filled in its default parameters, before any rank computes.
void check_order(const OrderSpec& spec, const ParamSpace& params);

/// @brief A permutation of the tasks: the scheduler hands out *positions* 0, 1, 2, ... and position
/// p runs task task(p). Everything between the dispatcher and the kernel (chunks, retries, the wire)
/// speaks positions; the kernel and the output file speak task indices. The default order is the
/// identity and costs nothing; "reverse" is computed; sorted orders hold one index per task.
class TaskOrder {
 public:
  /// @brief The identity over n tasks.
  explicit TaskOrder(TaskIndex n = 0) : n_(n) {}
  /// @brief The order `spec` describes over `params` (every rank builds the same one: the sort is
  /// stable, ties keep index order, NaN values go last).
  static TaskOrder build(const OrderSpec& spec, const ParamSpace& params);

  [[nodiscard]] TaskIndex size() const noexcept { return n_; }
  [[nodiscard]] bool is_identity() const noexcept { return kind_ == OrderSpec::Kind::index; }

  /// @brief The task run at schedule position `position`.
  [[nodiscard]] TaskIndex task(Position position) const noexcept {
    switch (kind_) {
      case OrderSpec::Kind::index:
        return position.value;
      case OrderSpec::Kind::reverse:
        return n_ - 1 - position.value;
      default:
        return tasks_[position.value];
    }
  }

  /// @brief A stretch of positions whose tasks are consecutive indices.
  struct Run {
    TaskIndex position;    ///< first position
    TaskIndex length;      ///< positions in the run
    TaskIndex first_task;  ///< task(position)
    bool descending;       ///< task(position + j) is first_task - j (else first_task + j)
    /// @brief The tasks of the run as an ascending range.
    [[nodiscard]] TaskRange tasks() const noexcept {
      return descending ? TaskRange{first_task + 1 - length, first_task + 1} : TaskRange{first_task, first_task + length};
    }
  };
  /// @brief Splits `positions` into maximal runs, in position order, into `out` (cleared first):
  /// one run for the identity and for "reverse", as many as the sort made for sorted orders.
  void runs(TaskRange positions, std::vector<Run>& out) const;

  /// @brief The positions of the tasks in `tasks` (sorted, disjoint ranges), as sorted, disjoint ranges.
  [[nodiscard]] std::vector<TaskRange> positions_of(const std::vector<TaskRange>& tasks) const;
  /// @brief The same map keyed by position instead of task.
  [[nodiscard]] std::map<TaskIndex, std::uint32_t> by_position(const std::map<TaskIndex, std::uint32_t>& per_task) const;

 private:
  TaskIndex n_ = 0;
  OrderSpec::Kind kind_ = OrderSpec::Kind::index;
  std::vector<TaskIndex> tasks_;  // sorted orders: the task at each position
};

}  // namespace taskfarm::job
