#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "taskfarm/core/task_range.hpp"
#include "taskfarm/io/results_file.hpp"

namespace taskfarm::io {

/// @brief Coalesces small per-task writes into whole HDF5 chunks.
///
/// Results arrive as many small ranges (chunks of 1 under self-scheduling) in nearly increasing
/// order. Writing each one with its own H5Dwrite would cost microseconds per task; instead tasks are
/// gathered in windows aligned to the file's chunk rows and a window is written once it is full,
/// a numeric column as one whole stored chunk (ResultsFile::write_chunk). Memory is bounded:
/// beyond `max_open_windows` the oldest window is written partially.
class TaskWriteBuffer {
 public:
  /// @param columns the file's per-task columns this buffer writes (e.g. all but /tasks/state)
  TaskWriteBuffer(ResultsFile& file, std::vector<std::size_t> columns, std::size_t max_open_windows = 8);

  /// @brief Takes tasks `range` of the buffer's columns; `data[k]` points at
  /// range.size() * file.column_bytes(columns[k]) bytes.
  void put(TaskRange range, std::span<const std::byte* const> data);
  /// @brief Writes every buffered task, including partly filled windows.
  void flush();

  [[nodiscard]] std::size_t open_windows() const noexcept { return open_.size(); }
  [[nodiscard]] std::uint64_t hdf5_writes() const noexcept { return writes_; }

 private:
  struct Window {
    TaskRange range;
    std::vector<std::vector<std::byte>> columns;
    std::vector<std::uint8_t> have;  // task received?
    TaskIndex count = 0;
  };
  /// Writes what a window holds: a complete one whole, a partial one run by run.
  void write_runs(Window& w);
  /// Forgets a written window, keeping its memory for the next one.
  void retire(std::map<TaskIndex, Window>::iterator it);

  static constexpr std::size_t kSpareWindows = 1;

  ResultsFile& file_;
  std::vector<std::size_t> columns_;
  std::vector<std::size_t> bytes_;
  std::vector<bool> whole_;  // by column: ResultsFile::writes_whole_chunks
  TaskIndex rows_;
  std::size_t max_open_;
  std::map<TaskIndex, Window> open_;  // keyed by window number
  std::vector<Window> spare_;         // written windows' memory, for reuse
  std::uint64_t writes_ = 0;
};

}  // namespace taskfarm::io
