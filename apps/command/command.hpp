#pragma once

#include <taskfarm/taskfarm.hpp>

namespace taskfarm::apps {

/// @brief `command`: each task runs a program, its argv built from a template and the task's
/// parameters (no shell unless `shell = true`); records exit code, signal, wall time, peak memory
/// and the ends of stdout and stderr.
[[nodiscard]] App command();

}  // namespace taskfarm::apps
