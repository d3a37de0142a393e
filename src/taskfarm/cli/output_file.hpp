#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "taskfarm/app/kernel.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/job/job_spec.hpp"

namespace taskfarm::cli {

/// @brief The file layout of a job's output: datasets from the kernel's schema and the parameter
/// space, root attributes describing the job. `spec` and `kernel` must outlive the result.
io::ResultsFile::CreateOptions output_layout(const job::JobSpec& spec, const app::Kernel& kernel, int n_ranks);

/// @brief Refuses (InputError, one line naming the path and the reason) an output path that a
/// job must not write: empty, in a missing or read-only directory, a directory or other non-regular
/// file, one of the job's inputs (even with `force`), a running job's output (even with `force`),
/// an existing file without `force`, or a file system without room for `layout`.
void check_output_path(const std::filesystem::path& path, bool force, const job::JobSpec& spec,
                       const io::ResultsFile::CreateOptions& layout);

/// @brief Refuses (InputError) when the file system of `path` has no room for `layout`.
void check_room(const std::filesystem::path& path, const io::ResultsFile::CreateOptions& layout);

/// @brief What create_in_place() may find at its path when it renames the new file into place.
enum class Replace {
  nothing,        ///< there must be no file (checked atomically: renameat2 RENAME_NOREPLACE)
  unless_running, ///< `run --force`: a file, unless a running job writes it (checked again just before)
  own_file,       ///< a resume's rebuild: the file this process holds open and locked
};

/// @brief Creates `layout` under a temporary name beside `path`, lets `fill` write into it, and
/// renames it into place when it is complete, so that there is never a half-made output at `path`.
/// A creation that fails or is stopped (`layout.cancelled`) removes its temporary file; temporary
/// files that an earlier process on this host left behind (kill -9) are removed first.
io::ResultsFile create_in_place(const std::filesystem::path& path, io::ResultsFile::CreateOptions layout,
                                Replace replace, const std::function<void(io::ResultsFile&)>& fill = {});

/// @brief True when both paths name the same existing file (links and symlinks followed).
bool same_file(const std::filesystem::path& a, const std::filesystem::path& b);

/// @brief check_output_path, then create_in_place: the output of `taskfarm run`. Stopped by
/// SIGINT/SIGTERM/SIGUSR1 while writing /params, it throws Interrupted and leaves nothing behind.
io::ResultsFile create_output(const std::filesystem::path& path, bool force, const job::JobSpec& spec,
                              const app::Kernel& kernel, int n_ranks);

}  // namespace taskfarm::cli
