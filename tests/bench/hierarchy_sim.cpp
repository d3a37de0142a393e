// Predicted efficiency of one master versus two-level scheduling at 1k, 4k and 16k ranks, by the
// farm simulator (schedule/simulator.hpp): 10^7 tasks of 1 ms mean, lognormal sigma = 1, 5 us per
// message at every master, 2 us latency, rank 0 computing too; workers prefetch as the real ones do
// with prefetch = "auto", with prefetch = 1, or not at all ("none": ask when idle). Two-level rows:
// the farm's design as committed (rank 0 also serves its own group, a single rank asking rank 0
// gets at most ceil(R / 2P) over all computing ranks, group masters cap replies, members send
// results straight to rank 0 in batches) and the what-ifs of results through the group masters and
// of rank 0 serving only group masters. Prints a markdown table; it asserts nothing (a benchmark,
// not a test).
//   hierarchy_sim [--tasks N] [--ranks P,P,...] [--group-size S] [--prefetch auto,none,1]
//                 [--cases all|farm|N,N,...]  (farm: the rows of the farm as it is; N: the Nth case, from 1)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "taskfarm/app/cost_model.hpp"
#include "taskfarm/job/job_spec.hpp"
#include "taskfarm/schedule/simulator.hpp"

namespace {

using taskfarm::TaskIndex;
namespace sched = taskfarm::schedule;

struct Case {
  const char* label;
  sched::PolicyKind policy;       // flat: the master's; groups: each group master's
  int group_size;                 // 0 = flat
  sched::PolicyKind root_policy;  // groups only
  bool forward = false;           // groups only: results through the group masters (what-if)
  bool apart = false;             // groups only: rank 0 serves only group masters (what-if)
  bool farm = false;              // one of the rows of the farm as it is (--cases farm)
};

std::vector<int> parse_list(const char* text) {
  std::vector<int> out;
  for (const char* p = text; *p != '\0';) {
    char* end = nullptr;
    out.push_back(static_cast<int>(std::strtol(p, &end, 10)));
    p = *end == ',' ? end + 1 : end;
    if (end == p && *p != '\0') {
      break;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  TaskIndex n = 10'000'000;
  std::vector<int> ranks{1024, 4096, 16384};
  int group_size = 64;
  std::string prefetch = "auto,none";
  std::string which = "all";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--tasks") == 0) {
      n = std::strtoull(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--ranks") == 0) {
      ranks = parse_list(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--group-size") == 0) {
      group_size = std::atoi(argv[i + 1]);
    } else if (std::strcmp(argv[i], "--prefetch") == 0) {
      prefetch = argv[i + 1];
    } else if (std::strcmp(argv[i], "--cases") == 0) {
      which = argv[i + 1];
    }
  }

  // The synthetic app's own cost model, drawn once: every case sees the same task costs.
  const taskfarm::job::JobSpec spec = taskfarm::job::parse_job(
      "[job]\napp = \"synthetic\"\n[app]\ndistribution = \"lognormal\"\nmean_ms = 1.0\nspread = 1.0\n", "bench");
  const auto model = taskfarm::app::CostModel::from_settings(spec.app_settings.view(), n);
  std::vector<double> costs(n);
  for (TaskIndex t = 0; t < n; ++t) {
    costs[t] = model.seconds(t);
  }
  const sched::TaskCost cost = [&costs](TaskIndex t) { return costs[t]; };

  const std::vector<Case> cases{
      {"flat fac2", sched::PolicyKind::fac2, 0, sched::PolicyKind::fac2, false, false, true},
      {"flat ss", sched::PolicyKind::ss, 0, sched::PolicyKind::fac2},
      {"groups fac2 / fac2 (farm)", sched::PolicyKind::fac2, group_size, sched::PolicyKind::fac2, false, false, true},
      {"groups fac2 / fac2, what-if: results via group masters", sched::PolicyKind::fac2, group_size,
       sched::PolicyKind::fac2, true},
      {"groups fac2 / fac2, what-if: rank 0 apart", sched::PolicyKind::fac2, group_size, sched::PolicyKind::fac2,
       false, true},
      {"groups fac2 / fac2, what-if: both", sched::PolicyKind::fac2, group_size, sched::PolicyKind::fac2, true, true},
      {"groups fac2 / ss, what-if: both", sched::PolicyKind::ss, group_size, sched::PolicyKind::fac2, true, true},
  };

  fmt::print("{} tasks, lognormal sigma = 1, mean 1 ms; 5 us per message at every master, 2 us latency, "
             "rank 0 computes; groups of {} ranks (fac2 / x: fac2 at rank 0, x in a group)\n\n",
             n, group_size);
  fmt::print("| ranks | scheduling | prefetch | groups | makespan (s) | rank 0 done (s) | ideal (s) | makespan / ideal "
             "| efficiency | rank 0 busy | rank 0 messages | busiest group master | chunks | simulated in |\n");
  fmt::print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  std::vector<std::string> modes;
  for (std::size_t b = 0; b <= prefetch.size();) {
    const std::size_t e = std::min(prefetch.find(',', b), prefetch.size());
    modes.push_back(prefetch.substr(b, e - b));
    b = e + 1;
  }

  const auto run = [&](int p, const Case& c, const std::string& mode) {
    sched::SimConfig config;
    config.ranks = p;
    config.policy.kind = c.policy;
    config.root_policy.kind = c.root_policy;
    config.groups = c.group_size > 0 ? std::max(2, p / c.group_size) : 0;
    config.results_through_group_masters = c.forward;
    config.rank0_serves_only_group_masters = c.apart;
    config.master_computes = true;
    config.service = 5e-6;
    config.latency = 2e-6;
    config.prefetch = mode == "auto"   ? sched::SimPrefetch::automatic
                      : mode == "none" ? sched::SimPrefetch::none
                                       : sched::SimPrefetch::fixed;
    config.prefetch_chunks = static_cast<std::uint32_t>(std::max(1, std::atoi(mode.c_str())));
    config.record_chunks = false;
    const auto t0 = std::chrono::steady_clock::now();
    const sched::SimResult r = sched::simulate(config, n, cost);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    fmt::print("| {} | {} | {} | {} | {:.4f} | {:.4f} | {:.4f} | {:.3f} | {:.3f} | {:.1f} % | {} | {} | {} "
               "| {:.1f} s |\n",
               p, c.label, mode, r.groups, r.makespan, r.finished, r.total_cost / r.computing_ranks,
               r.makespan * r.computing_ranks / r.total_cost, r.efficiency,
               100.0 * r.master_utilisation, r.master_messages,
               config.groups > 0 ? fmt::format("{:.1f} %", 100.0 * r.group_utilisation_max) : std::string("–"),
               r.chunks, took);
    std::fflush(stdout);
  };
  for (const int p : ranks) {
    const std::vector<int> picked = which == "all" || which == "farm" ? std::vector<int>{} : parse_list(which.c_str());
    for (std::size_t i = 0; i < cases.size(); ++i) {
      const Case& c = cases[i];
      if ((which == "farm" && !c.farm) ||
          (!picked.empty() && std::find(picked.begin(), picked.end(), static_cast<int>(i + 1)) == picked.end())) {
        continue;
      }
      for (const std::string& mode : modes) {
        run(p, c, mode);
      }
    }
  }
  return 0;
}
