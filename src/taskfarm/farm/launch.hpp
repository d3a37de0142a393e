#pragma once

#include <functional>
#include <memory>
#include <string>

#include "taskfarm/app/registry.hpp"
#include "taskfarm/farm/plan.hpp"
#include "taskfarm/io/results_file.hpp"

namespace taskfarm::farm {

/// @brief What rank 0 prepares before any rank computes: the job text every rank parses, the open
/// output, and the tasks to run.
struct Prepared {
  std::string text;    ///< the job's TOML text
  std::string source;  ///< where it came from, for messages
  std::string output;  ///< the output path, for the closing lines
  std::unique_ptr<io::ResultsFile> file;
  FarmPlan plan;
};

/// @brief Runs a job on every rank of MPI_COMM_WORLD (collective; initialises MPI). `prepare`
/// runs on rank 0 alone, and is where every input error is found: InputError is one line and exit
/// code 2 on every rank before any rank computes; Interrupted (a signal while creating) is 75.
/// Then every rank parses the broadcast job, builds its kernel and runs the farm. A rank that fails
/// after that prints "taskfarm: rank R on HOST: fatal: ..." and aborts the job (exit code 3): no
/// rank ever leaves quietly while others wait for it. Returns the process exit code.
int launch(const std::function<Prepared(int n_ranks)>& prepare, const FarmOptions& options,
           const app::Registry& registry);

/// @brief Reports a command-line error once, whether or not an MPI launcher started this process,
/// and returns `code` on every rank together (a rank that exited at once could make mpirun kill
/// rank 0 before its line reached the terminal).
int fail_on_every_rank(const std::string& message, int code);

/// @brief "taskfarm: error: MESSAGE" on stderr, flushed.
void print_error(const std::string& message);

}  // namespace taskfarm::farm
