#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "taskfarm/core/element_type.hpp"
#include "taskfarm/core/field.hpp"
#include "taskfarm/core/task_range.hpp"
#include "taskfarm/io/h5.hpp"
#include "taskfarm/io/output_lock.hpp"
#include "taskfarm/job/param_space.hpp"

namespace taskfarm::io {

/// @brief One per-task dataset: /results/<name> or /tasks/<name> (core's Field, the kernels' too).
using ColumnSpec = Field;

/// @brief Value of /tasks/state.
enum class TaskState : std::uint8_t { pending = 0, done = 1, failed = 2 };

/// @brief One row of /chunks. Times are seconds since the job started.
struct ChunkRow {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::int32_t rank = 0;
  double assigned = 0.0;
  double started = 0.0;
  double finished = 0.0;
  std::uint8_t speculative = 0;  ///< 1: a copy of a straggler's chunk tail ([schedule] speculate)
};

/// @brief One row of /failures: one failed attempt of one task.
struct FailureRow {
  std::uint64_t task = 0;
  std::uint32_t attempt = 0;
  std::int32_t rank = 0;
  std::string host;
  std::string message;
};

/// @brief One row of /ranks: what each rank did.
struct RankRow {
  std::int32_t rank = 0;
  std::string host;
  std::uint64_t tasks = 0;
  std::uint64_t chunks = 0;
  double busy_seconds = 0.0;  ///< wall seconds inside kernels
  double cpu_seconds = 0.0;   ///< process CPU seconds
  double peak_rss_mib = 0.0;
};

using AttributeValue = std::variant<std::string, std::int64_t, double>;

/// @brief Values of one parameter axis for a range of tasks, as stored in /params.
using ParamValues = std::variant<std::vector<std::int64_t>, std::vector<double>, std::vector<std::string>>;

/// @brief A part of an output whose stored checksum does not match its bytes (or that HDF5 cannot
/// read back at all).
struct Damage {
  std::string dataset;  ///< e.g. "/results/energy", "/failures"
  TaskRange tasks;      ///< the tasks it covers; empty for the tables (/chunks, /failures, /ranks)
  std::string error;    ///< what HDF5 said
};

/// @brief The current UTC time as ISO 8601, e.g. "2026-11-21T19:02:35Z" (attribute format).
std::string utc_now();

/// @brief The job's one HDF5 output file (layout in DESIGN.md). Not thread-safe: one thread at a time.
class ResultsFile {
 public:
  /// 2: Fletcher32 checksums on every dataset; the HDF5 1.8 format (checksummed object headers).
  static constexpr std::int64_t kFormatVersion = 4;  // 3: the netCDF-4 view (dimensions, root links); 4: /tasks/attempts, text fields

  struct CreateOptions {
    std::filesystem::path path;
    TaskIndex n_tasks = 0;
    std::vector<ColumnSpec> results;
    const job::ParamSpace* params = nullptr;  ///< written to /params/<axis>, one value per task
    bool overwrite = false;                   ///< replace an existing file (else refuse)
    std::vector<std::pair<std::string, AttributeValue>> attributes;  ///< extra root attributes
    /// Polled while the (possibly large) /params are written; when it returns true, create()
    /// stops and throws Interrupted (the caller removes the half-made file).
    std::function<bool()> cancelled;
  };

  /// @brief Creates the file with every dataset; status "running".
  static ResultsFile create(const CreateOptions& options);
  /// @brief The chunk_rows() a file for `n_tasks` tasks with result columns `results` gets: about
  /// 1 MiB of the widest column (of 8 bytes a task, at least), a power of two, at most n_tasks.
  /// `taskfarm simulate` aligns its chunks to it as the farm does (a kernel's schema() is its columns).
  static TaskIndex chunk_rows_for(TaskIndex n_tasks, std::span<const ColumnSpec> results);
  /// @brief About how many bytes the finished file of `options` takes (results, /tasks, /params;
  /// text parameters counted at their stored size): what must fit on the disk before create().
  [[nodiscard]] static double estimate_bytes(const CreateOptions& options);
  /// @brief Opens an existing output; throws InputError if it is not a readable taskfarm file, or
  /// if a running job writes it (or, for `writable`, another program has it open).
  static ResultsFile open(const std::filesystem::path& path, bool writable = false);

  /// @brief The created file was renamed to `path`: the location flush() checks from now on.
  void moved_to(std::filesystem::path path) { lock_.moved_to(std::move(path)); }
  /// @brief The path this file is expected at (writable files only; empty otherwise).
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return lock_.path(); }

  /// @brief True when the datasets carry Fletcher32 checksums (format 2 and later).
  [[nodiscard]] bool has_checksums() const;
  /// @brief Reads every dataset back, chunk by chunk, and lists what fails its checksum. The
  /// per-task columns are checked in blocks of chunk_rows(), so damage maps to the tasks it covers.
  [[nodiscard]] std::vector<Damage> find_damage() const;
  [[nodiscard]] TaskIndex n_tasks() const noexcept { return n_tasks_; }
  /// @brief Rows per HDF5 chunk, the same for every per-task dataset (write in multiples of it).
  [[nodiscard]] TaskIndex chunk_rows() const noexcept { return chunk_rows_; }

  /// @brief Per-task columns: the result fields, then /tasks/state, /tasks/rank, /tasks/seconds and
  /// (format 4 on) /tasks/attempts.
  [[nodiscard]] std::size_t column_count() const noexcept { return columns_.size(); }
  [[nodiscard]] std::size_t result_count() const noexcept { return columns_.size() - (has_attempts_ ? 4 : 3); }
  [[nodiscard]] std::size_t state_column() const noexcept { return result_count(); }
  [[nodiscard]] std::size_t rank_column() const noexcept { return result_count() + 1; }
  [[nodiscard]] std::size_t seconds_column() const noexcept { return result_count() + 2; }
  /// @brief /tasks/attempts, when the file has it (files of format 3 and before do not).
  [[nodiscard]] std::optional<std::size_t> attempts_column() const noexcept {
    return has_attempts_ ? std::optional<std::size_t>(result_count() + 3) : std::nullopt;
  }
  [[nodiscard]] std::size_t column_bytes(std::size_t column) const { return columns_.at(column).bytes; }
  [[nodiscard]] const ColumnSpec& column(std::size_t column) const { return columns_.at(column).spec; }

  /// @brief Writes tasks `range` of one column from `data` (range.size() * column_bytes bytes).
  void write_tasks(std::size_t column, TaskRange range, const void* data);
  /// @brief True when write_chunk() can write `column`: its only filter is the Fletcher32 checksum
  /// and it is stored as it is held in memory (every numeric column taskfarm creates; not text).
  [[nodiscard]] bool writes_whole_chunks(std::size_t column) const { return columns_.at(column).whole_chunks; }
  /// @brief Bytes of the Fletcher-32 checksum stored after a chunk's data.
  static constexpr std::size_t kChecksumBytes = 4;
  /// @brief Writes the chunk of `column` that starts at task `first` (a multiple of chunk_rows())
  /// as it is stored: `chunk` holds chunk_rows() tasks of the column (tasks past n_tasks() zero),
  /// then kChecksumBytes that this call fills with the checksum. One H5Dwrite_chunk: the bytes are not
  /// copied into HDF5's chunk cache nor into its filter's buffer (write_tasks copies them twice).
  void write_chunk(std::size_t column, TaskIndex first, std::span<std::byte> chunk);
  /// @brief Reads tasks `range` of one column into `data`.
  void read_tasks(std::size_t column, TaskRange range, void* data) const;

  void append_chunks(std::span<const ChunkRow> rows);
  void append_failures(std::span<const FailureRow> rows);
  void write_ranks(std::span<const RankRow> rows);
  [[nodiscard]] std::vector<ChunkRow> read_chunks() const;
  /// @brief The parameter axes stored in /params, in the job's order.
  [[nodiscard]] std::vector<std::string> param_names() const;
  /// @brief /params/NAME for tasks `range`: integers, reals or strings as stored.
  [[nodiscard]] ParamValues read_param(const std::string& name, TaskRange range) const;
  [[nodiscard]] std::vector<FailureRow> read_failures() const;

  void set_attribute(std::string_view name, const AttributeValue& value);
  [[nodiscard]] std::optional<AttributeValue> attribute(std::string_view name) const;
  [[nodiscard]] std::string text_attribute(std::string_view name) const;

  /// @brief Pushes everything written so far to the file (H5Fflush; no fsync). For a writable
  /// file, then checks that its path still names it: if the file was removed or replaced under the
  /// job, saves what it holds as `<path>.orphaned-<pid>` and throws Error naming both.
  void flush();
  /// @brief flush(), then fsync(): what was written survives a node crash or power loss, not only
  /// the death of this process. A checkpoint syncs results before it marks their tasks done, so
  /// that no reordering of page writes by the OS can leave a task marked done beside stale results.
  void sync();

 private:
  struct Column {
    ColumnSpec spec;
    std::string path;
    std::size_t bytes = 0;
    DatasetHandle dataset;
    DatatypeHandle type;  ///< the element type in memory and on disk (a text field's fixed-length string)
    bool whole_chunks = false;  ///< see writes_whole_chunks()
  };
  ResultsFile() = default;
  void open_tables();
  /// Sets each column's whole_chunks, from its dataset's creation properties.
  void find_whole_chunk_columns();

  FileHandle file_;
  OutputLock lock_;  // writable files only
  std::vector<Column> columns_;
  bool has_attempts_ = false;
  TaskIndex n_tasks_ = 0;
  TaskIndex chunk_rows_ = 1;
  DatasetHandle chunks_;
  DatasetHandle failures_;
};

}  // namespace taskfarm::io
