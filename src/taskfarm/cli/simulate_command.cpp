#include "taskfarm/cli/simulate_command.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "taskfarm/app/cost_model.hpp"
#include "taskfarm/cli/number_option.hpp"
#include "taskfarm/core/error.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/job/job_spec.hpp"
#include "taskfarm/schedule/simulator.hpp"

namespace taskfarm::cli {

namespace {

struct SimulateArgs {
  std::string job;
  int ranks = 0;
  double service_us = 5.0;
  std::string service_from;  // an earlier run's output: its measured seconds per message
  double latency_us = 2.0;
  double cores = 0.0;  // 0: a core per rank
  double chunk_service_us = 0.0;
  int groups = -1;                 // < 0: the job's [schedule] groups
  bool forward_results = false;
  bool rank0_apart = false;
  double group_service_us = -1.0;  // < 0: --service-us
  std::string root_policy;         // "": the job's [schedule] root_policy
  std::string prefetch;  // "" = the job's
  std::string costs;
  bool chunks = false;
};


/// Rank 0's measured time per message in an earlier run (the master_service_seconds and
/// master_messages attributes every run writes), in microseconds.
double measured_service_us(const std::string& path) {
  const io::ResultsFile file = io::ResultsFile::open(path);
  const auto seconds = file.attribute("master_service_seconds");
  const auto messages = file.attribute("master_messages");
  if (!seconds || !messages || !std::holds_alternative<double>(*seconds) ||
      !std::holds_alternative<std::int64_t>(*messages) || std::get<std::int64_t>(*messages) <= 0) {
    throw InputError(fmt::format("{}: --service-from: no measured master service time in this file (written by "
                                 "taskfarm runs since issue 12, for runs whose rank 0 took up messages)",
                                 path));
  }
  return std::get<double>(*seconds) / static_cast<double>(std::get<std::int64_t>(*messages)) * 1e6;
}

/// Task seconds from an earlier output's /tasks/seconds; every task must have been computed.
std::vector<double> replayed_costs(const std::string& path, TaskIndex n_tasks, const std::string& job_path) {
  const io::ResultsFile file = io::ResultsFile::open(path);
  if (file.n_tasks() != n_tasks) {
    throw InputError(fmt::format("--costs {}: holds {} tasks but {} has {}", path, file.n_tasks(), job_path, n_tasks));
  }
  std::vector<double> seconds(n_tasks);
  std::vector<std::uint8_t> state(std::min<TaskIndex>(n_tasks, TaskIndex{1} << 20));
  for (TaskIndex b = 0; b < n_tasks; b += state.size()) {
    const TaskRange r{b, std::min<TaskIndex>(n_tasks, b + state.size())};
    file.read_tasks(file.state_column(), r, state.data());
    for (TaskIndex i = 0; i < r.size(); ++i) {
      if (state[i] == static_cast<std::uint8_t>(io::TaskState::pending)) {
        throw InputError(fmt::format("--costs {}: task {} was never computed, so its cost is unknown (resume that run "
                                     "first)",
                                     path, r.begin + i));
      }
    }
    file.read_tasks(file.seconds_column(), r, seconds.data() + r.begin);
  }
  return seconds;
}

/// The synthetic app's cost of each task, exactly as its kernel draws it (axes named like the
/// model's settings sweep them per task).
schedule::TaskCost synthetic_costs(const job::JobSpec& spec) {
  auto model = std::make_shared<const app::CostModel>(
      app::CostModel::from_settings(spec.app_settings.view(), std::max<TaskIndex>(1, spec.params.size())));
  auto params = std::make_shared<const job::ParamSpace>(spec.params);
  const auto mean_axis = params->find("mean_ms");
  const auto spread_axis = params->find("spread");
  const auto seed_axis = params->find("seed");
  if (!mean_axis && !spread_axis && !seed_axis) {
    return [model](TaskIndex t) { return model->seconds(t); };
  }
  return [model, params, mean_axis, spread_axis, seed_axis](TaskIndex t) {
    return model->seconds(t, mean_axis ? 1e-3 * params->real(*mean_axis, t) : model->mean(),
                          spread_axis ? params->real(*spread_axis, t) : model->spread(),
                          seed_axis ? static_cast<std::uint64_t>(params->integer(*seed_axis, t)) : model->seed());
  };
}

/// The synthetic app's `slow_ranks` run `slowdown` times slower: the simulated ranks do too.
std::vector<double> synthetic_speeds(const job::JobSpec& spec, int ranks) {
  const std::vector<double> slow = spec.app_settings.reals("slow_ranks", std::vector<double>{});
  if (slow.empty()) {
    return {};
  }
  std::vector<double> speed(static_cast<std::size_t>(ranks), 1.0);
  const double factor = spec.app_settings.real("slowdown", 2.0);
  for (double r : slow) {
    if (r >= 0 && r < ranks) {
      speed[static_cast<std::size_t>(r)] = factor;
    }
  }
  return speed;
}

/// How much slower rank 0 computed than the other ranks in an earlier run of a synthetic job (whose
/// drawn task costs are known): (measured / drawn seconds on rank 0) over (the same on the others).
/// Rank 0's compute thread shares its cores with the dispatch and writer threads; the simulator
/// models their messages, not the CPU they take. Nothing when the run was not synthetic, when one side
/// computed no task, when its job or tasks cannot be read back, or when its ranks outnumbered `cores`
/// (0: a core each): then how the ranks shared the cores decided who was slower, which --cores models.
std::optional<double> measured_rank0_slowdown(const std::string& path, double cores) try {
  const io::ResultsFile file = io::ResultsFile::open(path);
  const auto app = file.attribute("app");
  const auto text = file.attribute("job_spec");
  const auto ranks = file.attribute("n_ranks");
  if (app != io::AttributeValue(std::string("synthetic")) || !text || !std::holds_alternative<std::string>(*text) ||
      !ranks || !std::holds_alternative<std::int64_t>(*ranks) || std::get<std::int64_t>(*ranks) < 1 ||
      std::get<std::int64_t>(*ranks) > (std::int64_t{1} << 24) ||
      (cores > 0 && static_cast<double>(std::get<std::int64_t>(*ranks)) > cores)) {
    return std::nullopt;
  }
  const job::JobSpec spec = job::parse_job(std::get<std::string>(*text), path);
  if (spec.params.size() != file.n_tasks()) {
    return std::nullopt;
  }
  const schedule::TaskCost cost = synthetic_costs(spec);
  const std::vector<double> speed = synthetic_speeds(spec, static_cast<int>(std::get<std::int64_t>(*ranks)));
  double measured[2] = {0.0, 0.0};  // rank 0, the others
  double drawn[2] = {0.0, 0.0};
  constexpr TaskIndex kBlock = TaskIndex{1} << 16;
  std::vector<std::uint8_t> state(kBlock);
  std::vector<std::int32_t> rank(kBlock);
  std::vector<double> seconds(kBlock);
  for (TaskIndex b = 0; b < file.n_tasks(); b += kBlock) {
    const TaskRange r{b, std::min(file.n_tasks(), b + kBlock)};
    file.read_tasks(file.state_column(), r, state.data());
    file.read_tasks(file.rank_column(), r, rank.data());
    file.read_tasks(file.seconds_column(), r, seconds.data());
    for (TaskIndex i = 0; i < r.size(); ++i) {
      if (state[i] != static_cast<std::uint8_t>(io::TaskState::done) || rank[i] < 0) {
        continue;
      }
      const auto who = static_cast<std::size_t>(rank[i]);
      const int side = rank[i] == 0 ? 0 : 1;
      measured[side] += seconds[i];
      drawn[side] += cost(r.begin + i) * (who < speed.size() ? speed[who] : 1.0);
    }
  }
  if (drawn[0] <= 0.0 || drawn[1] <= 0.0 || measured[0] <= 0.0 || measured[1] <= 0.0) {
    return std::nullopt;
  }
  return (measured[0] / drawn[0]) / (measured[1] / drawn[1]);
} catch (const Error&) {
  // An optional refinement: a job whose parameter file has moved since, or a damaged block of the
  // file, leaves the prediction with the measured service time alone.
  return std::nullopt;
}

void apply_prefetch(const std::string& text, std::uint32_t job_prefetch, schedule::SimConfig& config) {
  if (text.empty()) {
    config.prefetch = job_prefetch == 0 ? schedule::SimPrefetch::automatic : schedule::SimPrefetch::fixed;
    config.prefetch_chunks = std::max<std::uint32_t>(job_prefetch, 1);
    return;
  }
  if (text == "none") {
    config.prefetch = schedule::SimPrefetch::none;
    return;
  }
  if (text == "auto") {
    config.prefetch = schedule::SimPrefetch::automatic;
    return;
  }
  std::size_t used = 0;
  long value = 0;
  try {
    value = std::stol(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || value < 1 || value > 4095) {
    throw InputError(fmt::format("--prefetch: expected none, auto or a number of chunks 1..4095, got \"{}\"", text));
  }
  config.prefetch = schedule::SimPrefetch::fixed;
  config.prefetch_chunks = static_cast<std::uint32_t>(value);
}

std::string prefetch_text(const schedule::SimConfig& c) {
  switch (c.prefetch) {
    case schedule::SimPrefetch::none:
      return "none (ask when idle)";
    case schedule::SimPrefetch::fixed:
      return fmt::format("{} chunk{} ahead", c.prefetch_chunks, c.prefetch_chunks == 1 ? "" : "s");
    case schedule::SimPrefetch::automatic:
      return "auto (two round trips ahead)";
  }
  return "?";
}

int run_simulate(const SimulateArgs& args, const app::Registry& registry) {
  job::JobSpec spec = job::load_job(args.job);
  const std::unique_ptr<app::Kernel> kernel = registry.instantiate(spec, 0);  // validates [app], fills default [params]
  const TaskIndex n = spec.params.size();

  schedule::SimConfig config;
  config.ranks = args.ranks;
  config.policy = spec.schedule.policy;
  config.master_computes = spec.schedule.master_computes;
  config.groups = args.groups >= 0 ? args.groups : static_cast<int>(spec.schedule.groups);
  config.results_through_group_masters = args.forward_results;
  config.rank0_serves_only_group_masters = args.rank0_apart;
  double service_us = args.service_us;
  if (!args.service_from.empty()) {
    service_us = measured_service_us(args.service_from);
  }
  config.service = service_us * 1e-6;
  config.service_per_chunk = args.chunk_service_us * 1e-6;
  config.group_service = args.group_service_us < 0 ? -1.0 : args.group_service_us * 1e-6;
  config.latency = args.latency_us * 1e-6;
  config.cores = args.cores;
  config.record_chunks = args.chunks;
  config.root_policy = spec.schedule.root_policy;
  if (!args.root_policy.empty()) {
    const auto root_kind = schedule::parse_policy_kind(args.root_policy);
    if (!root_kind) {
      throw InputError(fmt::format("--root-policy: unknown policy \"{}\"; expected one of: {}", args.root_policy,
                                   schedule::policy_names_help()));
    }
    config.root_policy = schedule::PolicySpec{};
    config.root_policy.kind = *root_kind;
  }
  apply_prefetch(args.prefetch, spec.schedule.prefetch, config);

  schedule::TaskCost cost;
  std::string cost_source;
  if (!args.costs.empty()) {
    auto seconds = std::make_shared<const std::vector<double>>(replayed_costs(args.costs, n, args.job));
    cost = [seconds](TaskIndex t) { return (*seconds)[t]; };
    cost_source = fmt::format("measured in {}", args.costs);
  } else if (spec.app == "synthetic") {
    cost = synthetic_costs(spec);
    cost_source = fmt::format("synthetic {}", spec.app_settings.text("distribution", "constant"));
  } else {
    throw InputError(fmt::format("{}: app \"{}\" has no cost model; pass --costs OUT.h5 (an earlier output of this "
                                 "job) to replay its measured task times",
                                 args.job, spec.app));
  }
  if (spec.app == "synthetic") {
    config.speed = synthetic_speeds(spec, args.ranks);
  }
  std::optional<double> rank0_slowdown;
  if (!args.service_from.empty() && config.master_computes && (args.cores <= 0 || args.ranks <= args.cores)) {
    rank0_slowdown = measured_rank0_slowdown(args.service_from, args.cores);
    if (rank0_slowdown) {
      config.speed.resize(static_cast<std::size_t>(args.ranks), 1.0);
      config.speed[0] *= *rank0_slowdown;
    }
  }

  const job::TaskOrder order = job::TaskOrder::build(spec.schedule.order, spec.params);
  if (!order.is_identity()) {  // the simulator hands out positions, as the farm does
    cost = [order, by_task = std::move(cost)](TaskIndex position) { return by_task(order.task(Position{position})); };
  }
  // Rank 0 ends chunks on the output's write windows when positions are task indices (as the farm).
  config.window = order.is_identity() ? io::ResultsFile::chunk_rows_for(n, kernel->schema()) : 0;
  const schedule::SimResult r = schedule::simulate(config, n, cost);

  if (args.chunks) {
    fmt::print("{:>12} {:>12} {:>6} {:>12} {:>12} {:>12}\n", "begin", "end", "rank", "assigned", "started", "finished");
    for (const schedule::SimChunk& c : r.chunk_rows) {
      fmt::print("{:>12} {:>12} {:>6} {:>12.6f} {:>12.6f} {:>12.6f}\n", c.begin, c.end, c.rank, c.assigned, c.started,
                 c.finished);
    }
  }
  const bool hier = r.groups > 0;
  fmt::print("{}: simulated on {} ranks ({} computing; rank 0 {}{})\n", args.job, args.ranks, r.computing_ranks,
             r.rank0_computes ? "computes too" : "only schedules",
             hier ? fmt::format("; {} groups, {} group masters", r.groups, r.group_masters) : "");
  fmt::print("  tasks      {} ({}), {:.6g} s of work in all\n", n, cost_source, r.total_cost);
  fmt::print("  schedule   {}{}, prefetch {}, order {}\n", schedule::policy_name(config.policy.kind),
             hier ? fmt::format(" in each group, {} at rank 0{}; results {}",
                                schedule::policy_name(config.root_policy.kind),
                                config.rank0_serves_only_group_masters ? " for group masters only (what-if)" : "",
                                config.results_through_group_masters ? "through the group masters (what-if)"
                                                                     : "straight to rank 0, batched")
                  : "",
             prefetch_text(config), spec.schedule.order.text());
  if (rank0_slowdown) {
    fmt::print("  rank 0     computes {:.3g}x slower than the others (its dispatch and writer threads' share, "
               "measured in {})\n", *rank0_slowdown, args.service_from);
  }
  fmt::print("  messages   {:.3g} us per message{}{} at {}, {:g} us latency one way\n", service_us,
             args.service_from.empty() ? "" : fmt::format(" (measured in {})", args.service_from),
             args.chunk_service_us > 0 ? fmt::format(" + {:g} us per chunk", args.chunk_service_us) : "",
             hier ? fmt::format("rank 0, {:g} us at a group master",
                                args.group_service_us < 0 ? service_us : args.group_service_us)
                  : "the master",
             args.latency_us);
  const double ideal = r.computing_ranks > 0 ? r.total_cost / r.computing_ranks : 0.0;
  fmt::print("  makespan   {:.6g} s (ideal {:.6g} s: the work spread evenly); rank 0 done at {:.6g} s\n", r.makespan,
             ideal, r.finished);
  fmt::print("  efficiency {:.4f}\n", r.efficiency);
  fmt::print("  rank 0     {:.1f} % busy, {} messages{}\n", 100.0 * r.master_utilisation, r.master_messages,
             hier ? fmt::format(", {} chunks to group masters", r.root_chunks) : "");
  if (hier) {
    fmt::print("  groups     busiest group master {:.1f} % busy, {} messages\n", 100.0 * r.group_utilisation_max,
               r.group_messages_max);
  }
  fmt::print("  chunks     {}\n", r.chunks);
  return 0;
}

}  // namespace

void add_simulate_command(CLI::App& app, const app::Registry& registry, std::function<int()>& action) {
  auto args = std::make_shared<SimulateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "simulate", "predict a job's makespan, efficiency and master load on P ranks (no MPI; nothing is computed)");
  cmd->add_option("job", args->job, "job file (TOML): its policy, prefetch, master_computes and task costs")
      ->required();
  cmd->add_option("--ranks", args->ranks, "P: ranks of the simulated run")->required()->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--service-us", args->service_us, "master's time per message (us)")
      ->capture_default_str()
      ->check(finite_in(0.0, 1e9));
  cmd->add_option("--service-from", args->service_from,
                  "an earlier run's output: use rank 0's measured time per message (its master_service_seconds / "
                  "master_messages) instead of --service-us, and, for a run of a synthetic job, how much slower "
                  "rank 0 computed than the other ranks")
      ->check(CLI::ExistingFile)
      ->excludes("--service-us");
  cmd->add_option("--cores", args->cores,
                  "cores the ranks share (an oversubscribed node: ranks computing at once share them); 0 = one "
                  "each")
      ->capture_default_str()
      ->check(finite_in(0.0, 1e9));
  cmd->add_option("--latency-us", args->latency_us, "one-way message latency (us)")
      ->capture_default_str()
      ->check(finite_in(0.0, 1e9));
  cmd->add_option("--chunk-service-us", args->chunk_service_us, "master's extra time per chunk in a reply (us)")
      ->capture_default_str()
      ->check(finite_in(0.0, 1e9));
  cmd->add_option("--groups", args->groups, "two-level scheduling in G groups, 0 or 1 = flat (default: the job's)")
      ->check(CLI::Range(0, 65536));
  cmd->add_flag("--results-via-group-masters", args->forward_results,
                "what-if: members send results to their group master, which forwards them (the farm sends them to "
                "rank 0)");
  cmd->add_flag("--rank0-only-schedules-groups", args->rank0_apart,
                "what-if: ranks 1..P-1 form the groups and rank 0 serves only their masters (in the farm rank 0 "
                "also serves its own group's members)");
  cmd->add_option("--group-service-us", args->group_service_us,
                  "a group master's time per message (default: --service-us)")
      ->check(finite_in(0.0, 1e9));
  cmd->add_option("--root-policy", args->root_policy, "with groups: rank 0's policy (default: the job's)");
  cmd->add_option("--prefetch", args->prefetch, "none, auto or chunks ahead (default: the job's [schedule] prefetch)");
  cmd->add_option("--costs", args->costs, "take task costs from an earlier output's /tasks/seconds");
  cmd->add_flag("--chunks", args->chunks, "print every chunk: begin, end, rank, assigned, started, finished");
  cmd->callback([args, &registry, &action] { action = [args, &registry] { return run_simulate(*args, registry); }; });
}

}  // namespace taskfarm::cli
