// The 2D Ising model as a taskfarm app: one Monte Carlo run per task, written against the public API
// alone (taskfarm/taskfarm.hpp), as a user's kernel is. The physics is in ising_model.cpp.
#include "ising.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "ising_model.hpp"

namespace taskfarm::apps {

namespace {

using ising2d::Update;

Update parse_update(std::string_view text, const std::function<void(std::string)>& fail) {
  if (text == "metropolis") {
    return Update::metropolis;
  }
  if (text == "wolff") {
    return Update::wolff;
  }
  fail(fmt::format("expected \"metropolis\" or \"wolff\", got \"{}\"", text));
  return Update::wolff;
}

/// A result field and its error bar.
struct Observable {
  Output<double> value;
  Output<double> error;
};

class Ising final : public Kernel {
 public:
  explicit Ising(Setup& setup) {
    const Settings& s = setup.settings();
    base_.thermalize = s.integer("thermalize", 1000);
    if (base_.thermalize < 0) {
      s.fail("thermalize", fmt::format("expected a number of sweeps >= 0, got {}", base_.thermalize));
    }
    const std::int64_t bins = s.integer("bins", 32);
    if (bins < 2 || bins > 100000) {
      s.fail("bins", fmt::format("expected an integer in [2, 100000], got {}", bins));
    }
    base_.bins = static_cast<int>(bins);
    base_.measure = s.integer("measure", 10000);
    constexpr std::int64_t kMaxMeasure = 50'000'000;  // 16 bytes of time series per sweep: 800 MB
    if (base_.measure < 10 * bins || base_.measure > kMaxMeasure) {
      s.fail("measure", fmt::format("expected at least 10 sweeps per bin ({}) and at most {}, got {}", 10 * bins,
                                    kMaxMeasure, base_.measure));
    }
    base_.update = parse_update(s.text("update", "wolff"), [&](std::string m) { s.fail("update", m); });
    base_.seed = static_cast<std::uint64_t>(s.integer("seed", 1));

    // Every axis must change the run: two tasks differing only in an axis the app does not read would
    // be the same chain, bit for bit, and averaging them would shrink error bars by a lie.
    for (const std::string& name : setup.param_names()) {
      if (name != "T" && name != "L" && name != "seed" && name != "update") {
        setup.fail_param(name, "the ising app does not read this axis (it reads T, L, seed and update); "
                               "for independent replicas use a `seed` axis");
      }
    }
    T_ = setup.param<double>("T");
    if (setup.bounds(T_).first <= 0) {
      setup.fail_param("T", fmt::format("temperatures must be positive, got {}", setup.bounds(T_).first));
    }
    L_ = setup.param<int>("L");
    const auto [lo, hi] = setup.bounds(L_);
    if (lo < 2 || hi > 4096) {
      setup.fail_param("L", fmt::format("lattice sizes must lie in [2, 4096], got {}", lo < 2 ? lo : hi));
    }
    if (setup.has_param("seed")) {
      seed_ = setup.param<std::int64_t>("seed");
    }
    if (setup.has_param("update")) {
      update_ = setup.param<std::string>("update");
    }

    // Each observable is a field and its standard error (binned jackknife), FIELD and FIELD_err.
    auto observable = [&](const std::string& name, const std::string& unit, const std::string& what) {
      return Observable{setup.field<double>(name, unit, what),
                        setup.field<double>(name + "_err", unit, "standard error of " + name + " (binned jackknife)")};
    };
    energy_ = observable("energy", "J", "energy per spin <E>/N (J = 1, no field)");
    abs_m_ = observable("abs_m", "", "magnetisation per spin <|M|>/N");
    heat_ = observable("specific_heat", "k_B", "specific heat per spin N beta^2 (<e^2> - <e>^2)");
    chi_ = observable("susceptibility", "1/J", "susceptibility per spin N beta (<m^2> - <|m|>^2)");
    binder_ = observable("binder", "", "Binder cumulant 1 - <m^4> / (3 <m^2>^2)");
    tau_ = setup.field<double>("tau_int", "sweeps", "integrated autocorrelation time (binning; larger of e and |m|)");
    acceptance_ = setup.field<double>("acceptance", "", "Metropolis acceptance rate (NaN for Wolff)");
    cluster_ = setup.field<double>("cluster_size", "", "Wolff mean cluster size / N (NaN for Metropolis)");
  }

  // A task's results depend on its (T, L, seed, update) and the settings: not on its index.
  [[nodiscard]] bool results_follow_parameters() const override { return true; }

  void compute(Task& task) override {
    ising2d::Run run = base_;
    run.T = task.param(T_);
    run.L = task.param(L_);
    if (seed_) {
      run.seed = static_cast<std::uint64_t>(task.param(*seed_));
    }
    if (update_) {
      run.update = parse_update(task.param(*update_), [&](std::string m) {
        throw Error(fmt::format("task {}: parameter 'update': {}", task.index(), m));
      });
    }
    const ising2d::Result r = ising2d::simulate(run);
    for (const auto& [field, estimate] : {std::pair{energy_, r.energy}, std::pair{abs_m_, r.abs_m},
                                          std::pair{heat_, r.specific_heat}, std::pair{chi_, r.susceptibility},
                                          std::pair{binder_, r.binder}}) {
      task.out(field.value)[0] = estimate.value;
      task.out(field.error)[0] = estimate.error;
    }
    task.out(tau_)[0] = r.tau_int;
    task.out(acceptance_)[0] = r.acceptance;
    task.out(cluster_)[0] = r.cluster_size;
  }

 private:
  ising2d::Run base_;
  Param<double> T_;
  Param<int> L_;
  std::optional<Param<std::int64_t>> seed_;
  std::optional<Param<std::string>> update_;
  Observable energy_, abs_m_, heat_, chi_, binder_;
  Output<double> tau_, acceptance_, cluster_;
};

}  // namespace

App ising() {
  return {"ising", "2D Ising model Monte Carlo (Metropolis or Wolff), observables with error bars", make<Ising>};
}

}  // namespace taskfarm::apps
