#include "taskfarm/farm/launch.hpp"

#include "taskfarm/farm/farm.hpp"

#include <cstdio>
#include <cstdlib>

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>
#include <boost/serialization/string.hpp>
#include <fmt/format.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/farm/stop_signal.hpp"
#include "taskfarm/job/job_spec.hpp"

namespace taskfarm::farm {

namespace {

/// The launcher's rank for this process before MPI is initialised (-1 when not launched by MPI):
/// lets a command-line error be printed once, not once per rank.
int launcher_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    if (const char* v = std::getenv(var)) {
      return std::atoi(v);
    }
  }
  return -1;
}

/// What rank 0 tells every rank after preparing: go (code 0) with the job's text, or stop with
/// `code`. The job travels as its TOML text, so every rank parses the same spec the same way.
struct JobMessage {
  int code = 0;
  std::string text;
  std::string source;
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar & code & text & source;
  }
};

}  // namespace

void print_error(const std::string& message) {
  fmt::print(stderr, "taskfarm: error: {}\n", message);
  std::fflush(stderr);
}

int fail_on_every_rank(const std::string& message, int code) {
  const int rank = launcher_rank();
  if (rank <= 0) {
    print_error(message);
  }
  if (rank >= 0) {
    boost::mpi::environment env;
    boost::mpi::communicator().barrier();
  }
  return code;
}

int launch(const std::function<Prepared(int n_ranks)>& prepare, const FarmOptions& options,
           const app::Registry& registry) {
  boost::mpi::environment env(boost::mpi::threading::funneled);
  const boost::mpi::communicator world;
  const std::string host = boost::mpi::environment::processor_name();

  install_stop_handlers();  // before preparing: a stop while creating the output must be heard
  JobMessage message;
  std::string error;
  Prepared prepared;
  if (world.rank() == 0) {
    try {
      prepared = prepare(world.size());
      message.text = prepared.text;
      message.source = prepared.source;
    } catch (const Interrupted& e) {
      error = fmt::format("{}; nothing was written", e.what());
      message.code = static_cast<int>(ExitCode::interrupted);
    } catch (const InputError& e) {
      error = e.what();
      message.code = static_cast<int>(ExitCode::bad_input);
    } catch (const std::exception& e) {
      error = e.what();
      message.code = static_cast<int>(ExitCode::internal);
    }
  }
  boost::mpi::broadcast(world, message, 0);
  if (message.code != 0) {
    if (world.rank() == 0) {
      print_error(error);
    }
    return message.code;
  }

  try {
    job::JobSpec spec = job::parse_job(message.text, message.source);
    auto kernel = registry.instantiate(spec, world.rank());
    const FarmResult result = run_farm(world, spec, *kernel, prepared.file.get(), options, prepared.plan);
    prepared.file.reset();  // closed (and unlocked) before we report
    if (world.rank() == 0) {
      fmt::print(stderr, "taskfarm: {}: {} tasks done, {} failed, {} pending; {:.2f} s on {} ranks\n", prepared.output,
                 result.done, result.failed, result.pending, result.wall_seconds, world.size());
      if (result.exit_code() == ExitCode::interrupted) {
        fmt::print(stderr, "taskfarm: interrupted; continue with: taskfarm resume {}\n", prepared.output);
      } else if (result.failed > 0) {
        fmt::print(stderr, "taskfarm: failed tasks are listed in /failures; rerun them with: taskfarm resume "
                           "--retry-failed {}\n", prepared.output);
      }
    }
    return static_cast<int>(result.exit_code());
  } catch (const std::exception& e) {
    // One rank must never leave quietly while the others block in recv: say who and where, then abort all.
    fmt::print(stderr, "taskfarm: rank {} on {}: fatal: {}\n", world.rank(), host, e.what());
    std::fflush(stderr);
    env.abort(static_cast<int>(ExitCode::internal));
  }
  return static_cast<int>(ExitCode::internal);
}

}  // namespace taskfarm::farm
