#pragma once

#include <functional>

namespace CLI {
class App;
}

namespace taskfarm::cli {

/// @brief Adds `taskfarm inspect OUT.h5 [--watch [SECONDS]] [--json]` to `app`. On a finished (or
/// stopped) job it summarises the file and checks every checksum; on a running job it shows the
/// live status the job writes beside its output (io::LiveStatus) without touching the HDF5 file:
/// done/failed/pending, rate, ETA, per-rank busy time, slowest tasks, latest failures.
void add_inspect_command(CLI::App& app, std::function<int()>& action);

}  // namespace taskfarm::cli
