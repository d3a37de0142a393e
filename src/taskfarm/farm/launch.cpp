#include "taskfarm/farm/launch.hpp"

#include "taskfarm/farm/farm.hpp"

#include <sched.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string_view>
#include <vector>

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
  double end_epoch = 0.0;  // the job's end time, found once by rank 0 (one squeue call, not one per rank)
  template <class Archive>
  void serialize(Archive& ar, unsigned /*version*/) {
    ar & code & text & source & end_epoch;
  }
};

/// Under Slurm, the allocation's end time (Unix seconds) from `squeue -h -o %e -j $SLURM_JOB_ID`
/// (local time, "2026-12-02T14:31:00"); 0 when not under Slurm, without a limit, or unknown.
double slurm_end_epoch() {
  const char* id = std::getenv("SLURM_JOB_ID");
  if (id == nullptr || std::string_view(id).find_first_not_of("0123456789_") != std::string_view::npos) {
    return 0.0;
  }
  std::FILE* pipe = ::popen(fmt::format("squeue -h -o %e -j {} 2>/dev/null", id).c_str(), "r");
  if (pipe == nullptr) {
    return 0.0;
  }
  std::array<char, 128> line{};
  const bool got = std::fgets(line.data(), line.size(), pipe) != nullptr;
  ::pclose(pipe);
  std::tm tm{};
  if (!got || ::strptime(line.data(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) {
    return 0.0;  // "N/A", "UNLIMITED": no end to plan for
  }
  tm.tm_isdst = -1;
  const std::time_t end = std::mktime(&tm);
  return end < 0 ? 0.0 : static_cast<double>(end);
}

/// Slots a rank runs: `[job] slots`, lowered with `threads_per_task` so that slots x threads fit
/// the cores this rank may use (its affinity mask: a Slurm task's --cpus-per-task, mpirun's binding).
unsigned fitted_slots(const job::JobSpec& spec, int rank, const std::string& host) {
  if (spec.slots <= 1 || spec.threads_per_task == 0) {
    return std::max(1U, spec.slots);
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  const unsigned cores =
      ::sched_getaffinity(0, sizeof set, &set) == 0 ? static_cast<unsigned>(CPU_COUNT(&set)) : spec.slots;
  const unsigned fit = std::max(1U, cores / spec.threads_per_task);
  if (fit < spec.slots && rank == 0) {
    fmt::print(stderr, "taskfarm: rank 0 on {}: {} slots x {} threads per task do not fit its {} cores: running {} "
                       "tasks at once per rank\n", host, spec.slots, spec.threads_per_task, cores, fit);
  }
  return std::min(spec.slots, fit);
}

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
      message.end_epoch = options.end_epoch > 0 ? options.end_epoch : slurm_end_epoch();
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
  quiet_barrier(world);  // while rank 0 checks the job and creates the output (seconds at 10^8 tasks)
  boost::mpi::broadcast(world, message, 0);
  if (message.code != 0) {
    if (world.rank() == 0) {
      print_error(error);
    }
    return message.code;
  }

  try {
    job::JobSpec spec = job::parse_job(message.text, message.source);
    if (!spec.task_files.empty()) {  // every rank read the task file itself: the same bytes as rank 0?
      std::string root_hash = spec.task_files_hash;
      boost::mpi::broadcast(world, root_hash, 0);
      if (root_hash != spec.task_files_hash) {
        throw Error(fmt::format("{} reads differently here than on rank 0 (hash {} vs {}): every node must see the "
                                "same file", spec.task_files[0], spec.task_files_hash, root_hash));
      }
    }
    std::vector<std::unique_ptr<app::Kernel>> kernels;
    std::vector<app::Kernel*> lanes;
    for (unsigned s = fitted_slots(spec, world.rank(), host); s > 0; --s) {
      kernels.push_back(registry.instantiate(spec, world.rank(), &stop_flag(), &poll_stop));
      lanes.push_back(kernels.back().get());
    }
    FarmOptions run_options = options;
    run_options.end_epoch = message.end_epoch;
    const FarmResult result = run_farm(world, spec, lanes, prepared.file.get(), run_options, prepared.plan);
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
