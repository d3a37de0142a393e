#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace taskfarm::io {

/// @brief What a running job looks like from outside: rank 0 rewrites it beside the output
/// (live_status_path) every second or so, atomically (a new file renamed over the old one), so a
/// reader on a login node never sees a torn state and never touches the HDF5 file the job is
/// writing. Removed when the job ends; the output file then holds everything.
struct LiveStatus {
  struct Rank {
    int rank = 0;
    std::string host;
    std::uint64_t tasks = 0;     ///< tasks of this run it computed (results written)
    double busy_seconds = 0.0;   ///< the kernel's seconds on them
    /// Tasks of the chunks handed to it that it has not finished (some may be written already: results
    /// leave a worker in pieces, a chunk ends with its last task).
    std::uint64_t in_open_chunks = 0;
  };
  struct Task {
    std::uint64_t task = 0;
    double seconds = 0.0;
  };
  struct Failure {
    std::uint64_t task = 0;
    std::uint32_t attempt = 0;
    int rank = 0;
    std::string host;
    std::string message;
  };

  std::string output;
  std::string job_name;
  std::string app;
  int pid = 0;                  ///< rank 0's process
  std::string host;             ///< rank 0's host
  std::string updated;          ///< UTC time of this status
  std::uint64_t n_tasks = 0;    ///< tasks in the job
  std::uint64_t earlier = 0;    ///< tasks settled (done or failed) by earlier runs of a resumed job
  std::uint64_t to_do = 0;      ///< tasks this run started with
  std::uint64_t done = 0;       ///< of them, done
  std::uint64_t failed = 0;     ///< of them, failed for good
  bool stopping = false;        ///< a stop signal arrived: checkpointing, then exit 75
  double elapsed_seconds = 0.0;
  double tasks_per_second = 0.0;  ///< over the last ten seconds or so
  double eta_seconds = -1.0;      ///< negative: not known yet
  std::vector<Rank> ranks;
  std::vector<Task> slowest;          ///< the slowest tasks so far, slowest first
  std::vector<Failure> recent_failures;  ///< the latest failed attempts, latest last

  [[nodiscard]] std::uint64_t pending() const noexcept { return to_do - std::min(to_do, done + failed); }

  static constexpr std::size_t kSlowest = 5;  ///< slowest tasks kept
  /// @brief Keeps `task` in `top` if it is among the kSlowest slowest so far (slowest first).
  /// Inline: the writer thread offers it every task it writes.
  static void keep_slowest(std::vector<Task>& top, Task task) {
    if (top.size() == kSlowest && task.seconds <= top.back().seconds) {
      return;
    }
    top.insert(std::find_if(top.begin(), top.end(), [&](const Task& t) { return t.seconds < task.seconds; }), task);
    if (top.size() > kSlowest) {
      top.pop_back();
    }
  }
};

/// @brief OUT.status.toml beside OUT.
[[nodiscard]] std::filesystem::path live_status_path(const std::filesystem::path& output);

/// @brief Removes the status of `output` (a job that ends, or a new writer of a killed job's output).
void remove_live_status(const std::filesystem::path& output) noexcept;

/// @brief Writes `status` to live_status_path(status.output) atomically (temporary file, rename).
/// Returns 0, or the errno of the failure: callers treat it as non-fatal (the job matters more than
/// its view).
[[nodiscard]] int write_live_status(const LiveStatus& status) noexcept;

/// @brief The status a running job last wrote for `output`, or nothing when there is none or it
/// cannot be read (a job that has not written one yet).
[[nodiscard]] std::optional<LiveStatus> read_live_status(const std::filesystem::path& output);

/// @brief `status` as TOML (what the file holds) or as JSON (`taskfarm inspect --json`).
[[nodiscard]] std::string format_live_status(const LiveStatus& status, bool json);

}  // namespace taskfarm::io
