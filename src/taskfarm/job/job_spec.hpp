#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "taskfarm/job/param_space.hpp"
#include "taskfarm/job/settings.hpp"
#include "taskfarm/job/task_order.hpp"
#include "taskfarm/schedule/policy.hpp"

namespace taskfarm::job {

/// @brief The `[schedule]` table.
struct ScheduleSpec {
  schedule::PolicySpec policy;
  std::uint32_t prefetch = 0;   ///< chunks a worker keeps requested ahead; 0 = auto (sized to hide latency)
  bool master_computes = true;  ///< rank 0 also computes tasks on a thread of its own
  bool speculate = false;       ///< a straggler's unfinished chunk may be copied to an idle rank
  std::uint32_t groups = 0;     ///< two-level scheduling: G group masters under rank 0; 0 or 1 = flat
  schedule::PolicySpec root_policy{schedule::PolicyKind::fac2};  ///< rank 0's policy over the groups
  OrderSpec order;              ///< the sequence tasks are handed out in
};

/// @brief The largest job file taskfarm reads (explicit value lists included, 16 MiB is generous).
inline constexpr std::uint64_t kMaxJobFileBytes = std::uint64_t{16} << 20;

/// @brief A parsed, validated job file. Every rank builds the same one from the same text.
struct JobSpec {
  std::string source;  ///< where the text came from, for messages
  std::string text;    ///< the TOML text exactly as given (stored in the output file)
  std::string name;
  std::string app;
  std::string output;
  std::uint32_t retries = 2;  ///< times a failed task is run again before it counts as failed
  std::uint32_t threads_per_task = 0;  ///< threads one task may use; 0: not set (1, or OMP_NUM_THREADS)
  bool fail_fast = false;     ///< stop the whole job cleanly at the first failed task
  std::uint32_t slots = 1;    ///< tasks a rank runs at once (threads, one kernel each), before fitting to its cores
  std::string expected_seconds;  ///< a task's expected wall time: a number or an expression over the parameters; "" none
  std::vector<std::string> task_files;  ///< [params] table or lines: the file the tasks come from
  std::string task_files_hash;          ///< FNV-1a of that file's bytes: every rank, and a resume, must read the same
  ScheduleSpec schedule;
  ParamSpace params;
  Settings app_settings;

  /// @brief 64-bit FNV-1a of `text`, as 16 hex digits: identifies the job in its output file.
  [[nodiscard]] std::string hash() const;
  /// @brief The files the job reads: the job file and every path its app read from `[app]`
  /// (Settings::input_path; complete once the kernel was instantiated). No output may be one of them.
  [[nodiscard]] std::vector<std::filesystem::path> inputs() const;
};

/// @brief Parses and validates job text; throws InputError "source:line: [table] key: what was expected".
JobSpec parse_job(std::string_view text, const std::string& source);

/// @brief The text of a job file; InputError naming the path if it cannot be read.
std::string read_job_text(const std::filesystem::path& path);

/// @brief Reads and parses a job file.
JobSpec load_job(const std::filesystem::path& path);

}  // namespace taskfarm::job
