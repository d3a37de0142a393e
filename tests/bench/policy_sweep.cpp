// Every chunk-size policy on a sweep of workloads and rank speeds, by the farm simulator
// (schedule/simulator.hpp): makespan relative to the best policy of each case, averaged over seeds.
// Workers keep one chunk requested ahead (prefetch = 1; --prefetch none: ask when idle; auto: as the
// real worker with prefetch = "auto"); rank 0 only schedules. Prints the geometric mean and the worst
// ratio per policy (and every case with --cases); asserts nothing.
//   policy_sweep [--seeds S] [--prefetch none|1|auto] [--cases]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "taskfarm/schedule/simulator.hpp"

namespace {

using taskfarm::TaskIndex;
namespace sched = taskfarm::schedule;

struct Farm {
  const char* label;
  std::vector<double> rates;  // per worker, tasks per second relative to 1
};

struct Link {
  double latency;  // one way, seconds
  double service;  // master seconds per message
};

/// Task costs (seconds) of one workload; `seed` varies the random ones and where clusters sit.
std::vector<double> costs(const std::string& name, std::size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> exponential(1000.0);  // mean 1 ms
  std::uniform_real_distribution<double> uniform(0.0, 2e-3);
  std::lognormal_distribution<double> lognormal(std::log(1e-3) - 1.125, 1.5);  // mean 1 ms
  std::uniform_real_distribution<double> where(0.2, 0.8);
  const double c0 = where(rng);
  const double c1 = where(rng);
  const auto side = static_cast<std::size_t>(std::sqrt(static_cast<double>(n)));
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double f = static_cast<double>(i) / static_cast<double>(n);
    if (name == "constant") {
      out[i] = 1e-3;
    } else if (name == "exponential") {
      out[i] = exponential(rng);
    } else if (name == "uniform") {
      out[i] = uniform(rng);
    } else if (name == "increasing") {
      out[i] = 2e-3 * f;
    } else if (name == "decreasing") {
      out[i] = 2e-3 * (1.0 - f);
    } else if (name == "bump") {  // a block of tasks 50x dearer than the rest
      const double x = (f - c0) / 0.08;
      out[i] = 1e-4 + 5e-3 * std::exp(-x * x);
    } else if (name == "lognormal") {
      out[i] = lognormal(rng);
    } else if (name == "blob") {  // Mandelbrot-like: rows of an image, dear near a centre, noisy
      const double r = static_cast<double>(i % side) / static_cast<double>(side);
      const double y = static_cast<double>(i / side) / (static_cast<double>(n) / static_cast<double>(side));
      const double v = std::exp(-((r - c1) * (r - c1) + (y - c0) * (y - c0)) / 0.03);
      out[i] = 5e-5 + 4e-3 * v * (0.5 + exponential(rng) * 500.0);
    } else {  // "spikes": one task in 997 costs 1000x
      out[i] = i % 997 == static_cast<std::size_t>(c0 * 997) ? 0.2 : 2e-4;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 4;
  bool show_cases = false;
  std::string prefetch = "1";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
      seeds = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--prefetch") == 0 && i + 1 < argc) {
      prefetch = argv[++i];
    } else if (std::strcmp(argv[i], "--cases") == 0) {
      show_cases = true;
    }
  }
  const std::vector<sched::PolicyKind> policies = {
      sched::PolicyKind::ss,  sched::PolicyKind::gss,   sched::PolicyKind::tss,   sched::PolicyKind::fac2,
      sched::PolicyKind::mfsc, sched::PolicyKind::awf,  sched::PolicyKind::awf_b, sched::PolicyKind::awf_c,
      sched::PolicyKind::af,  sched::PolicyKind::automatic};
  const std::vector<Farm> farms = {
      {"8 alike", std::vector<double>(8, 1.0)},
      {"8, one 0.5x", {0.5, 1, 1, 1, 1, 1, 1, 1}},
      {"8, one 0.25x", {1, 1, 1, 0.25, 1, 1, 1, 1}},
      {"8, two 0.3x", {0.3, 1, 1, 1, 1, 1, 1, 0.3}},
      {"64 alike", std::vector<double>(64, 1.0)},
      {"3 alike", std::vector<double>(3, 1.0)},
      {"4 at 1,2,1,2", {1, 2, 1, 2}},
  };
  const std::vector<std::string> workloads = {"constant", "exponential", "uniform", "increasing", "decreasing",
                                              "bump",     "lognormal",   "blob",    "spikes"};
  const std::vector<Link> links = {{10e-6, 5e-6}, {100e-6, 20e-6}};

  std::vector<double> log_sum(policies.size(), 0.0);
  std::vector<double> worst(policies.size(), 0.0);
  std::vector<std::string> worst_at(policies.size());
  int cases = 0;
  if (show_cases) {
    std::printf("| tasks | latency | farm | workload |");
    for (auto k : policies) {
      std::printf(" %s |", std::string(sched::policy_name(k)).c_str());
    }
    std::printf("\n");
  }
  for (std::size_t n : {1000UL, 20000UL, 200000UL}) {
    for (const Link& link : links) {
      for (const Farm& farm : farms) {
        for (const std::string& workload : workloads) {
          std::vector<double> mean(policies.size(), 0.0);
          for (int seed = 1; seed <= seeds; ++seed) {
            const std::vector<double> cost = costs(workload, n, static_cast<unsigned>(seed));
            double total = 0.0;
            for (double c : cost) {
              total += c;
            }
            double rate_sum = 0.0;
            for (double r : farm.rates) {
              rate_sum += r;
            }
            const double ideal = total / rate_sum;
            for (std::size_t k = 0; k < policies.size(); ++k) {
              sched::SimConfig config;
              config.ranks = static_cast<int>(farm.rates.size()) + 1;
              config.policy.kind = policies[k];
              config.master_computes = false;
              config.latency = link.latency;
              config.service = link.service;
              config.prefetch = prefetch == "none" ? sched::SimPrefetch::none
                                : prefetch == "auto" ? sched::SimPrefetch::automatic
                                                     : sched::SimPrefetch::fixed;
              config.prefetch_chunks = 1;
              config.record_chunks = false;
              config.speed.push_back(1.0);  // rank 0 only schedules
              for (double r : farm.rates) {
                config.speed.push_back(1.0 / r);
              }
              const auto result = sched::simulate(config, n, [&](TaskIndex t) { return cost[t]; });
              mean[k] += result.makespan / ideal / seeds;
            }
          }
          const double best = *std::min_element(mean.begin(), mean.end());
          const std::string where = std::to_string(n) + " tasks, " +
                                    std::to_string(static_cast<int>(link.latency * 1e6)) + " us, " + farm.label +
                                    ", " + workload;
          if (show_cases) {
            std::printf("| %zu | %g us | %s | %s |", n, link.latency * 1e6, farm.label, workload.c_str());
            for (double m : mean) {
              std::printf(" %.3f |", m);
            }
            std::printf("\n");
          }
          ++cases;
          for (std::size_t k = 0; k < policies.size(); ++k) {
            const double ratio = mean[k] / best;
            log_sum[k] += std::log(ratio);
            if (ratio > worst[k]) {
              worst[k] = ratio;
              worst_at[k] = where;
            }
          }
        }
      }
    }
  }
  std::printf("\n%d cases, %d seeds each, prefetch %s: makespan / best policy's makespan\n\n", cases, seeds,
              prefetch.c_str());
  std::printf("| policy | geometric mean | worst | worst case |\n|---|---|---|---|\n");
  for (std::size_t k = 0; k < policies.size(); ++k) {
    std::printf("| %s | %.3f | %.2f | %s |\n", std::string(sched::policy_name(policies[k])).c_str(),
                std::exp(log_sum[k] / cases), worst[k], worst_at[k].c_str());
  }
}
