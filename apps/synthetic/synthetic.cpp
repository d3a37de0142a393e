#include "synthetic.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "taskfarm/app/cost_model.hpp"
#include "taskfarm/core/clock.hpp"
#include "taskfarm/core/error.hpp"

namespace taskfarm::apps {

namespace {

using app::CostModel;

class Synthetic final : public app::Kernel {
 public:
  Synthetic(CostModel model, double slowdown, bool cpu_clock, const job::ParamSpace& params,
            std::vector<TaskIndex> fail_tasks)
      : model_(std::move(model)),
        fail_tasks_(std::move(fail_tasks)),
        slowdown_(slowdown),
        cpu_clock_(cpu_clock),
        params_(params),
        mean_axis_(params.find("mean_ms")),
        spread_axis_(params.find("spread")),
        seed_axis_(params.find("seed")) {}

  std::vector<app::Field> schema() const override {
    return {{"seconds", ElementType::f64, {}, "s", "cost drawn for the task: seconds it was asked to busy-spin"}};
  }

  void compute(TaskIndex task, const app::TaskOutput& out) override {
    // Axes named like the model's settings sweep them: each task uses its own values.
    const double cost = model_.seconds(
        task, mean_axis_ ? 1e-3 * params_.real(*mean_axis_, task) : model_.mean(),
        spread_axis_ ? params_.real(*spread_axis_, task) : model_.spread(),
        seed_axis_ ? static_cast<std::uint64_t>(params_.integer(*seed_axis_, task)) : model_.seed());
    out.field<double>(0)[0] = cost;
    if (std::find(fail_tasks_.begin(), fail_tasks_.end(), task) != fail_tasks_.end()) {
      throw std::runtime_error(fmt::format("task {} is listed in fail_tasks", task));
    }
    if (cost > 0.0) {
      // "wall": the task takes `cost` seconds of wall time, as a sleeping or I/O-bound task would.
      // "cpu": it burns `cost` seconds of its own CPU time, so on an oversubscribed node it takes
      // longer, as real compute does (and efficiency against the cores stays meaningful).
      auto clock = cpu_clock_ ? thread_cpu_seconds : now_seconds;
      const double until = clock() + cost * slowdown_;
      while (clock() < until) {
      }
    }
  }

 private:
  CostModel model_;
  std::vector<TaskIndex> fail_tasks_;
  double slowdown_;
  bool cpu_clock_;
  const job::ParamSpace& params_;
  std::optional<std::size_t> mean_axis_;
  std::optional<std::size_t> spread_axis_;
  std::optional<std::size_t> seed_axis_;
};

std::unique_ptr<app::Kernel> make_synthetic(app::KernelContext& ctx) {
  const job::Settings& s = ctx.settings;
  CostModel model = CostModel::from_settings(s, std::max<TaskIndex>(1, ctx.params.size()));
  // A heterogeneous cluster on one machine: listed ranks spin `slowdown` times longer.
  double slowdown = 1.0;
  const std::vector<double> slow_ranks = s.reals("slow_ranks", std::vector<double>{});
  const double factor = s.real("slowdown", 2.0);
  if (factor < 1.0) {
    s.fail("slowdown", fmt::format("expected a factor >= 1, got {}", factor));
  }
  for (double r : slow_ranks) {
    if (static_cast<int>(r) == ctx.rank) {
      slowdown = factor;
    }
  }
  const std::string clock = s.text("clock", "wall");
  if (clock != "wall" && clock != "cpu") {
    s.fail("clock", fmt::format("expected \"wall\" or \"cpu\", got \"{}\"", clock));
  }
  for (const char* name : {"mean_ms", "spread", "seed"}) {
    if (const auto axis = ctx.params.find(name)) {
      const auto kind = ctx.params.axes()[*axis].kind();
      if (kind == job::Axis::Kind::text || (std::string_view(name) == "seed" && kind != job::Axis::Kind::integer)) {
        throw InputError(fmt::format("{}: [params] {}: expected {} values", s.file(), name,
                                     std::string_view(name) == "seed" ? "integer" : "numeric"));
      }
    }
  }
  // Tasks that always throw: for testing failure handling, retries and resume --retry-failed.
  std::vector<TaskIndex> fail_tasks;
  for (double t : s.reals("fail_tasks", std::vector<double>{})) {
    if (t < 0 || t != static_cast<double>(static_cast<TaskIndex>(t))) {
      s.fail("fail_tasks", fmt::format("expected task indices, got {}", t));
    }
    fail_tasks.push_back(static_cast<TaskIndex>(t));
  }
  return std::make_unique<Synthetic>(std::move(model), slowdown, clock == "cpu", ctx.params, std::move(fail_tasks));
}

}  // namespace

void register_synthetic(app::Registry& registry) {
  registry.add({"synthetic", "busy-spins for a drawn cost per task (scheduling benchmarks)", make_synthetic});
}

}  // namespace taskfarm::apps
