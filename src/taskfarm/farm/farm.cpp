#include "taskfarm/farm/farm.hpp"

#include <sys/resource.h>

#include <array>

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/environment.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/vector.hpp>

#include "taskfarm/core/clock.hpp"
#include "taskfarm/farm/group_master.hpp"
#include "taskfarm/farm/idle_backoff.hpp"
#include "taskfarm/farm/master.hpp"
#include "taskfarm/farm/topology.hpp"
#include "taskfarm/farm/stop_signal.hpp"
#include "taskfarm/farm/worker.hpp"
#include "taskfarm/io/task_state_log.hpp"

namespace taskfarm::farm {

void quiet_barrier(const boost::mpi::communicator& world) {
  MPI_Request request = MPI_REQUEST_NULL;
  MPI_Ibarrier(world, &request);
  IdleBackoff backoff;
  int done = 0;
  for (;;) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done != 0) {
      return;
    }
    backoff.idle();
  }
}

std::vector<std::size_t> field_bytes(const app::Kernel& kernel) {
  std::vector<std::size_t> out;
  for (const app::Field& f : kernel.schema()) {
    out.push_back(f.bytes_per_task());
  }
  return out;
}

FarmResult run_farm(const boost::mpi::communicator& world, const job::JobSpec& spec,
                    const std::vector<app::Kernel*>& kernels, io::ResultsFile* file, const FarmOptions& options,
                    const FarmPlan& plan) {
  install_stop_handlers();
  const std::string host = boost::mpi::environment::processor_name();
  std::vector<std::string> hosts;
  boost::mpi::gather(world, host, hosts, 0);
  // Every rank builds the same order from the same job; the identity (the default) wraps nothing.
  const job::TaskOrder order = job::TaskOrder::build(spec.schedule.order, spec.params);

  world.barrier();
  const double t0 = now_seconds();  // every rank's clock origin, within a barrier's skew
  // Walltime-aware start: with an end time and an expected duration per task.
  StartLimit limit;
  if (options.end_epoch > 0 && !spec.expected_seconds.empty()) {
    limit.end = t0 + (options.end_epoch - epoch_seconds());
    limit.expected = job::ParamExpression::parse(spec.expected_seconds, spec.params);
  }

  RankStats stats;
  FarmResult result;
  if (world.rank() == 0) {
    const FarmPlan scheduled{order.positions_of(plan.pending), order.by_position(plan.attempts),
                             order.by_position(plan.failed_before)};
    Master master(world, spec, kernels, *file, options, scheduled, t0, hosts, order, &limit);
    result = master.run(stats);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    stats.cpu_seconds = process_cpu_seconds();
    stats.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  } else {
    const Topology topo(world.size(), static_cast<int>(spec.schedule.groups));
    if (topo.is_group_master(world.rank())) {
      GroupMaster(world, spec, topo.members(topo.group_of(world.rank())), t0).run();
      rusage usage{};
      getrusage(RUSAGE_SELF, &usage);
      stats.cpu_seconds = process_cpu_seconds();
      stats.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
    } else {
      stats = Worker(world, kernels, order, spec.schedule.prefetch, t0, topo.scheduler_of(world.rank()), &limit).run();
    }
  }

  quiet_barrier(world);
  std::vector<RankStats> all;
  boost::mpi::gather(world, stats, all, 0);
  if (world.rank() == 0) {
    std::vector<io::RankRow> rows;
    for (int r = 0; r < world.size(); ++r) {
      const RankStats& v = all[static_cast<std::size_t>(r)];
      rows.push_back({r, hosts[static_cast<std::size_t>(r)], v.tasks, v.chunks, v.busy_seconds, v.cpu_seconds,
                      v.peak_rss_mib});
    }
    file->write_ranks(rows);
    if (options.fsync) {
      file->sync();  // the last task states on disk before a status can vouch for them
    }
    const auto counts = io::count_states(*file);  // the whole file: earlier runs of a resumed job too
    result.pending = counts[0];
    result.done = counts[1];
    result.failed = counts[2];
    file->set_attribute("status", std::string(result.pending > 0 ? "incomplete"
                                              : result.failed > 0 ? "failed"
                                                                  : "complete"));
    file->set_attribute("finished", io::utc_now());
    file->set_attribute("n_done", static_cast<std::int64_t>(result.done));
    file->set_attribute("n_failed", static_cast<std::int64_t>(result.failed));
    file->set_attribute("wall_seconds", result.wall_seconds);
    file->set_attribute("master_cpu_seconds", result.master_cpu_seconds);
    // What `taskfarm simulate --service-from` calibrates its master with: seconds per message taken up.
    file->set_attribute("master_messages", static_cast<std::int64_t>(result.master_messages));
    file->set_attribute("master_service_seconds", result.master_service_seconds);
    if (options.fsync) {
      file->sync();  // "complete" on disk only with everything it vouches for
    } else {
      file->flush();
    }
  }
  quiet_barrier(world);  // while rank 0 counts the file's states and seals it
  boost::mpi::broadcast(world, result, 0);
  return result;
}

}  // namespace taskfarm::farm
