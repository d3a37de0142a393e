#pragma once

#include <algorithm>
#include <compare>
#include <cstdint>

namespace taskfarm {

/// @brief Task index type: jobs can exceed 2^32 tasks.
using TaskIndex = std::uint64_t;

/// @brief A place in the hand-out order. The scheduler hands out positions 0, 1, 2, ... (ranges of
/// them: TaskRange), the wire and the chunk runner carry them; kernels and the output file count
/// TaskIndex. job::TaskOrder::task(Position) is the one map from one to the other, so a position
/// cannot reach a kernel or a file row unconverted.
struct Position {
  std::uint64_t value = 0;
  friend constexpr auto operator<=>(Position, Position) = default;
};

/// @brief Half-open range [begin, end) of task indices: the unit the master hands out.
struct TaskRange {
  TaskIndex begin = 0;
  TaskIndex end = 0;

  [[nodiscard]] constexpr TaskIndex size() const noexcept { return end - begin; }
  [[nodiscard]] constexpr bool empty() const noexcept { return end <= begin; }
  [[nodiscard]] constexpr bool contains(TaskIndex i) const noexcept { return begin <= i && i < end; }
  [[nodiscard]] constexpr TaskRange intersect(TaskRange o) const noexcept {
    TaskRange r{std::max(begin, o.begin), std::min(end, o.end)};
    return r.empty() ? TaskRange{} : r;
  }
  friend constexpr bool operator==(TaskRange, TaskRange) = default;
};

}  // namespace taskfarm
