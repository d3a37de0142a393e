#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "taskfarm/core/element_type.hpp"

namespace taskfarm {

/// @brief One per-task dataset: a kernel's result field, stored as /results/<name> with shape
/// (n_tasks, shape...), or one of the file's /tasks columns. The one description of a column,
/// shared by the kernels (app/) and the output file (io/).
struct Field {
  std::string name;
  ElementType type = ElementType::f64;
  std::vector<std::uint64_t> shape;  ///< per-task shape; empty = one scalar per task
  std::string unit;
  std::string description;

  [[nodiscard]] std::uint64_t values_per_task() const {
    std::uint64_t n = 1;
    for (auto d : shape) {
      n *= d;
    }
    return n;
  }
  [[nodiscard]] std::size_t bytes_per_task() const { return values_per_task() * element_size(type); }
  /// @brief How the dataset looks to a reader of `n_tasks` tasks: "float64 (100, 3)", "string (100, up to 4096 bytes)".
  [[nodiscard]] std::string describe(std::uint64_t n_tasks) const {
    std::string text = std::string(element_name(type)) + " (" + std::to_string(n_tasks);
    if (type == ElementType::text) {
      return text + ", up to " + std::to_string(values_per_task()) + " bytes)";
    }
    for (auto d : shape) {
      text += ", " + std::to_string(d);
    }
    return text + ")";
  }
};

}  // namespace taskfarm
