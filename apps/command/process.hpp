#pragma once

// One program run the way a batch system should run it: exec'd from an argv (posix_spawn, no
// shell, no fork of a big MPI process), in a process group of its own so that a timeout or a stop
// ends it with every child and grandchild it started, stdin from a file (/dev/null by default),
// stdout and stderr captured (their last bytes kept, their sizes counted), wall time and peak
// memory measured.

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace taskfarm::apps::process {

/// @brief What to run and how.
struct Launch {
  std::vector<std::string> argv;          ///< argv[0] is looked up in PATH when it has no '/'
  std::vector<std::string> env;           ///< the whole environment, "NAME=value"
  std::string workdir;                    ///< "" for the caller's
  std::string stdin_path = "/dev/null";   ///< read as stdin
  double timeout_seconds = 0.0;           ///< 0: none
  double kill_grace_seconds = 2.0;        ///< from SIGTERM to SIGKILL after a timeout (after a stop: 1.5 s at most,
                                          ///< the job must checkpoint within Slurm's warning)
  std::size_t keep_bytes = 4096;          ///< of stdout and of stderr, the last bytes kept
};

/// @brief What became of it.
struct Outcome {
  int exit_code = -1;         ///< -1 when it ended by a signal
  int signal = 0;             ///< the signal that ended it, 0 if none
  bool timed_out = false;     ///< ended because it ran past timeout_seconds
  bool interrupted = false;   ///< ended because `stop` said so
  double wall_seconds = 0.0;
  std::int64_t max_rss_kib = 0;  ///< peak resident memory of the program itself (VmHWM), sampled every 20 ms
                                 ///< while it runs: 0 when it ended before the first sample
  std::string out_tail;       ///< the last keep_bytes bytes of stdout (raw bytes)
  std::string err_tail;
  std::uint64_t out_bytes = 0;  ///< everything it wrote to stdout
  std::uint64_t err_bytes = 0;
};

/// @brief The program could not be started (not found, not executable, no such directory): the
/// message says which and why.
class StartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief Runs `launch` to its end. `stop` is asked every few milliseconds; when it says true the
/// process group is ended (SIGTERM, then SIGKILL) and the outcome is `interrupted`. When the program
/// exits, whatever it left running in its process group is killed. Throws StartError.
Outcome run(const Launch& launch, const std::function<bool()>& stop);

}  // namespace taskfarm::apps::process
