#pragma once

#include <atomic>
#include <functional>

namespace taskfarm::farm {

/// @brief Installs handlers for SIGTERM, SIGINT and SIGUSR1 (Slurm's pre-timeout signal, which
/// mpirun forwards to every rank) that only record the signal; the farm polls stop_requested().
void install_stop_handlers();

/// @brief Why the job stops when no signal asked it to (stop_requested() < 0).
inline constexpr int kStopFailFast = -1;  ///< a task failed and the job has fail_fast
inline constexpr int kStopDeadline = -2;  ///< the next task could not end before the job's end time
inline constexpr int kStopPeer = -3;      ///< another rank stopped (its own deadline or signal)

/// @brief The signal that asked us to stop (> 0), the reason of a programmatic stop (< 0), 0 if none.
int stop_requested() noexcept;

/// @brief Asks for a stop from code (kStopFailFast, kStopDeadline, kStopPeer); a stop already
/// requested keeps its reason. Safe from any thread.
void request_stop(int reason) noexcept;

/// @brief Forgets a previous stop (tests that run several farms in one process).
void clear_stop() noexcept;

/// @brief The flag itself, for hot loops that poll it once per task.
const std::atomic<int>& stop_flag() noexcept;

/// @brief Installs (or with an empty function, removes) what poll_stop() runs: a worker's check
/// for the master's stop order, which needs MPI and so runs only on the thread that installed it.
void set_stop_poll(std::function<void()> poll);

/// @brief Lets a task that waits (a command) hear a stop order that arrives while it runs: runs the
/// installed poll when called from its thread; the order, once heard, is in stop_flag().
void poll_stop();

}  // namespace taskfarm::farm
