// A damped harmonic oscillator x'' + 2 gamma omega x' + omega^2 x = 0, x(0) = 1, x'(0) = 0,
// integrated with velocity Verlet; one task per (omega, gamma) from the job's [params].
#include <taskfarm/taskfarm.hpp>

class Oscillator final : public taskfarm::Kernel {
 public:
  explicit Oscillator(taskfarm::Setup& setup)
      : t_end_(setup.settings().real("t_end", 10.0)),
        steps_(setup.settings().integer("steps", 100000)),
        x_(setup.field<double>("x", "m", "position at t_end")),
        energy_(setup.field<double>("energy", {4}, "J/kg", "energy at t_end/4, t_end/2, 3t_end/4, t_end")) {
    if (steps_ < 4) setup.settings().fail("steps", "expected at least 4 steps");
    setup.require_param("omega", taskfarm::ParamKind::number);
    setup.require_param("gamma", taskfarm::ParamKind::number);
  }

  void compute(taskfarm::Task& task) override {
    const double omega = task.param<double>("omega"), gamma = task.param<double>("gamma");
    const double dt = t_end_ / static_cast<double>(steps_);
    const auto force = [&](double x, double v) { return -omega * omega * x - 2.0 * gamma * omega * v; };
    double x = 1.0, v = 0.0, a = force(x, v);
    for (std::int64_t i = 1; i <= steps_; ++i) {
      x += v * dt + 0.5 * a * dt * dt;
      const double v_half = v + 0.5 * a * dt;
      a = force(x, v_half);
      v = v_half + 0.5 * a * dt;
      if (i % (steps_ / 4) == 0 && i / (steps_ / 4) <= 4) {
        task.out(energy_)[i / (steps_ / 4) - 1] = 0.5 * v * v + 0.5 * omega * omega * x * x;
      }
    }
    task.out(x_)[0] = x;
  }
  bool results_follow_parameters() const override { return true; }  // nothing depends on the index

 private:
  double t_end_;
  std::int64_t steps_;
  taskfarm::Output<double> x_;
  taskfarm::Output<double> energy_;
};

int main(int argc, char** argv) {
  return taskfarm::main(argc, argv, {{"oscillator", "a damped harmonic oscillator", taskfarm::make<Oscillator>}});
}
