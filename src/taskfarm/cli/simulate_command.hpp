#pragma once

#include <functional>

#include "taskfarm/app/registry.hpp"

namespace CLI {
class App;
}

namespace taskfarm::cli {

/// @brief Adds `taskfarm simulate JOB --ranks P [...]` to `app`: predicts a job's makespan,
/// efficiency and master load on P ranks with schedule::simulate (no MPI, nothing computed).
/// When the parsed command line chose it, `action` is set to run it; the action prints to stdout,
/// returns the exit code and throws InputError (one line) on bad input. `registry` and `action`
/// must outlive the parse and the action.
void add_simulate_command(CLI::App& app, const app::Registry& registry, std::function<int()>& action);

}  // namespace taskfarm::cli
