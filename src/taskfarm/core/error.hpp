#pragma once

#include <stdexcept>
#include <string>

namespace taskfarm {

/// @brief Base of every exception taskfarm throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief Bad user input (job file, command line, output path): reported as one line, exit code 2.
class InputError : public Error {
 public:
  using Error::Error;
};

/// @brief Work stopped on purpose by a signal (SIGINT, SIGTERM, SIGUSR1) before it completed.
/// Thrown from a kernel's compute() (after Task::stop_signal() said so): the task was cut short by
/// the job's own stop; it is not a failure, uses up no retry and stays pending for the resume.
class Interrupted : public Error {
 public:
  using Error::Error;
};

/// @brief Thrown from a kernel's compute(): the task failed (recorded in /failures with this
/// message, retried like any failure), but the result fields it wrote are kept, not zeroed: a
/// command's exit code and stderr say why it failed.
class TaskFailed : public Error {
 public:
  using Error::Error;
};

/// @brief Process exit codes, documented in the README and used by the Slurm scripts.
enum class ExitCode : int {
  success = 0,       ///< every task done
  tasks_failed = 1,  ///< finished, but some tasks failed
  bad_input = 2,     ///< nothing started
  internal = 3,      ///< a rank hit a fatal error and aborted the job
  interrupted = 75,  ///< stopped by a signal, checkpointed: `taskfarm resume` it (EX_TEMPFAIL)
};

}  // namespace taskfarm
