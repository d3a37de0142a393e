#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace taskfarm::cli {

/// @brief Adds `taskfarm export OUT.h5 --csv [-o FILE]` to `app`: one CSV row per task (task index,
/// parameters, scalar results, task_state, task_rank, task_seconds), streamed a block at a time, so any size of
/// output fits in memory. When the parsed command line chose it, `action` is set to run it.
void add_export_command(CLI::App& app, std::function<int()>& action);

}  // namespace taskfarm::cli
