#pragma once

#include <filesystem>
#include <string>

#include "taskfarm/app/kernel.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/job/job_spec.hpp"

namespace taskfarm::cli {

/// @brief Checks that `path` can be created (its directory exists and is writable; an existing file
/// only with `force`) and creates the job's output. Throws InputError naming the path otherwise.
/// Nothing on disk changes when it throws for a bad path.
io::ResultsFile create_output(const std::filesystem::path& path, bool force, const job::JobSpec& spec,
                              const app::Kernel& kernel, int n_ranks);

}  // namespace taskfarm::cli
