#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace taskfarm::cli {

/// @brief Adds `taskfarm plot OUT.h5 [-o DIR] [--format png|svg|pdf]` to `app`: runs the plotting
/// script (share/taskfarm/taskfarm_plot.py beside the executable's bin/, or TASKFARM_PLOT_SCRIPT)
/// with Debian's python3 (or TASKFARM_PYTHON) in place of this process.
void add_plot_command(CLI::App& app, std::function<int()>& action);

}  // namespace taskfarm::cli
