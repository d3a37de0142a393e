// Synthetic workloads for scheduling benchmarks: a task busy-spins for a cost drawn from the
// literature's distributions (app::CostModel, which `taskfarm simulate` shares). Written against
// the public API (taskfarm/taskfarm.hpp); the cost model is a workload library, not framework.
#include "synthetic.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "taskfarm/app/cost_model.hpp"

namespace taskfarm::apps {

namespace {

using app::CostModel;

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double cpu_seconds() {  // this thread's CPU time
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

class Synthetic final : public Kernel {
 public:
  explicit Synthetic(Setup& setup)
      : model_(CostModel::from_settings(setup.settings(), std::max<std::uint64_t>(1, setup.tasks()))) {
    const Settings& s = setup.settings();
    // A heterogeneous cluster on one machine: listed ranks spin `slowdown` times longer.
    const std::vector<double> slow_ranks = s.reals("slow_ranks", std::vector<double>{});
    const double factor = s.real("slowdown", 2.0);
    if (factor < 1.0) {
      s.fail("slowdown", fmt::format("expected a factor >= 1, got {}", factor));
    }
    for (double r : slow_ranks) {
      if (static_cast<int>(r) == setup.rank()) {
        slowdown_ = factor;
      }
    }
    const std::string clock = s.text("clock", "wall");
    if (clock != "wall" && clock != "cpu") {
      s.fail("clock", fmt::format("expected \"wall\" or \"cpu\", got \"{}\"", clock));
    }
    cpu_clock_ = clock == "cpu";
    // Tasks that always throw: for testing failure handling, retries and resume --retry-failed.
    for (double t : s.reals("fail_tasks", std::vector<double>{})) {
      if (t < 0 || t != static_cast<double>(static_cast<std::uint64_t>(t))) {
        s.fail("fail_tasks", fmt::format("expected task indices, got {}", t));
      }
      fail_tasks_.push_back(static_cast<std::uint64_t>(t));
    }
    // Axes named like the model's settings sweep them: each task uses its own values.
    if (setup.has_param("mean_ms")) {
      mean_ms_ = setup.param<double>("mean_ms");
    }
    if (setup.has_param("spread")) {
      spread_ = setup.param<double>("spread");
    }
    if (setup.has_param("seed")) {
      seed_ = setup.param<std::int64_t>("seed");
    }
    seconds_ = setup.field<double>("seconds", "s", "cost drawn for the task: seconds it was asked to busy-spin");
  }

  void compute(Task& task) override {
    const std::uint64_t index = task.index();
    const double cost = model_.seconds(index, mean_ms_ ? 1e-3 * task.param(*mean_ms_) : model_.mean(),
                                       spread_ ? task.param(*spread_) : model_.spread(),
                                       seed_ ? static_cast<std::uint64_t>(task.param(*seed_)) : model_.seed());
    task.out(seconds_)[0] = cost;
    if (!fail_tasks_.empty() && std::find(fail_tasks_.begin(), fail_tasks_.end(), index) != fail_tasks_.end()) {
      throw std::runtime_error(fmt::format("task {} is listed in fail_tasks", index));
    }
    if (cost > 0.0) {
      // "wall": the task takes `cost` seconds of wall time, as a sleeping or I/O-bound task would.
      // "cpu": it burns `cost` seconds of its own CPU time, so on an oversubscribed node it takes
      // longer, as real compute does (and efficiency against the cores stays meaningful).
      auto clock = cpu_clock_ ? cpu_seconds : wall_seconds;
      const double until = clock() + cost * slowdown_;
      while (clock() < until) {
      }
    }
  }

 private:
  CostModel model_;
  std::vector<std::uint64_t> fail_tasks_;
  double slowdown_ = 1.0;
  bool cpu_clock_ = false;
  std::optional<Param<double>> mean_ms_;
  std::optional<Param<double>> spread_;
  std::optional<Param<std::int64_t>> seed_;
  Output<double> seconds_;
};

}  // namespace

App synthetic() {
  return {"synthetic", "busy-spins for a drawn cost per task (scheduling benchmarks)", make<Synthetic>};
}

}  // namespace taskfarm::apps
