#pragma once

#include <atomic>

namespace taskfarm::farm {

/// @brief Installs handlers for SIGTERM, SIGINT and SIGUSR1 (Slurm's pre-timeout signal, which
/// mpirun forwards to every rank) that only record the signal; the farm polls stop_requested().
void install_stop_handlers();

/// @brief The signal that asked us to stop (or -1 for a programmatic stop), 0 if none.
int stop_requested() noexcept;

/// @brief Asks for a stop from code (fail_fast). Safe from any thread.
void request_stop() noexcept;

/// @brief Forgets a previous stop (tests that run several farms in one process).
void clear_stop() noexcept;

/// @brief The flag itself, for hot loops that poll it once per task.
const std::atomic<int>& stop_flag() noexcept;

}  // namespace taskfarm::farm
