// The synthetic app's cost distributions: sample moments against the closed-form moments of each
// distribution (not against the code), and determinism per (seed, task).
#include <gtest/gtest.h>

#include <cmath>

#include "taskfarm/app/cost_model.hpp"
#include "taskfarm/job/job_spec.hpp"

namespace taskfarm::app {
namespace {

CostModel model(const std::string& app_table, TaskIndex n = 200000) {
  const job::JobSpec spec = job::parse_job("[job]\napp = \"synthetic\"\n[app]\n" + app_table, "job.toml");
  return CostModel::from_settings(spec.app_settings.view(), n);
}

struct Moments {
  double mean = 0;
  double variance = 0;
  double min = 1e300;
};

Moments sample(const CostModel& m, TaskIndex n = 200000) {
  Moments r;
  double m2 = 0;
  for (TaskIndex t = 0; t < n; ++t) {
    const double x = m.seconds(t);
    const double d = x - r.mean;
    r.mean += d / static_cast<double>(t + 1);
    m2 += d * (x - r.mean);
    r.min = std::min(r.min, x);
  }
  r.variance = m2 / static_cast<double>(n - 1);
  return r;
}

// mean_ms = 2 -> mean 0.002 s everywhere below.
TEST(CostModelTest, constant) {
  const Moments s = sample(model("distribution = \"constant\"\nmean_ms = 2.0\n"));
  EXPECT_DOUBLE_EQ(s.mean, 0.002);
  EXPECT_NEAR(s.variance, 0.0, 1e-18);
}

TEST(CostModelTest, uniform_has_variance_of_width_squared_over_12) {
  // U[0.001, 0.003]: variance (0.002)^2 / 12.
  const Moments s = sample(model("distribution = \"uniform\"\nmean_ms = 2.0\nspread = 0.5\n"));
  EXPECT_NEAR(s.mean, 0.002, 0.002 * 0.005);
  EXPECT_NEAR(s.variance, 0.002 * 0.002 / 12.0, 0.002 * 0.002 / 12.0 * 0.02);
  EXPECT_GE(s.min, 0.001);
}

TEST(CostModelTest, exponential_has_variance_mean_squared) {
  const Moments s = sample(model("distribution = \"exponential\"\nmean_ms = 2.0\n"));
  EXPECT_NEAR(s.mean, 0.002, 0.002 * 0.01);
  EXPECT_NEAR(s.variance, 4e-6, 4e-6 * 0.03);
}

TEST(CostModelTest, lognormal_keeps_the_requested_mean) {
  // sigma = 1: E = mean, Var = mean^2 (e^{sigma^2} - 1).
  const Moments s = sample(model("distribution = \"lognormal\"\nmean_ms = 2.0\nspread = 1.0\n"));
  EXPECT_NEAR(s.mean, 0.002, 0.002 * 0.02);
  EXPECT_NEAR(s.variance, 4e-6 * (std::exp(1.0) - 1.0), 4e-6 * (std::exp(1.0) - 1.0) * 0.15);
}

TEST(CostModelTest, gamma_has_coefficient_of_variation_spread) {
  for (double cv : {0.5, 2.0}) {  // shape 4 (Marsaglia-Tsang) and 0.25 (the k < 1 boost)
    const Moments s = sample(model("distribution = \"gamma\"\nmean_ms = 2.0\nspread = " + std::to_string(cv) + "\n"));
    EXPECT_NEAR(s.mean, 0.002, 0.002 * 0.02) << "cv " << cv;
    EXPECT_NEAR(std::sqrt(s.variance) / s.mean, cv, cv * 0.05) << "cv " << cv;
  }
}

TEST(CostModelTest, normal_with_small_spread) {
  const Moments s = sample(model("distribution = \"normal\"\nmean_ms = 2.0\nspread = 0.1\n"));
  EXPECT_NEAR(s.mean, 0.002, 0.002 * 0.002);
  EXPECT_NEAR(std::sqrt(s.variance), 0.0002, 0.0002 * 0.02);
}

TEST(CostModelTest, bimodal_has_two_values_and_the_requested_mean) {
  const CostModel m = model("distribution = \"bimodal\"\nmean_ms = 1.9\nheavy_fraction = 0.1\nheavy_ratio = 10\n");
  // light = 1.9 ms / (0.9 + 0.1 * 10) = 1 ms; heavy = 10 ms.
  std::size_t heavy = 0;
  for (TaskIndex t = 0; t < 100000; ++t) {
    const double x = m.seconds(t);
    ASSERT_TRUE(std::abs(x - 0.001) < 1e-15 || std::abs(x - 0.010) < 1e-15) << x;
    heavy += x > 0.005 ? 1 : 0;
  }
  EXPECT_NEAR(static_cast<double>(heavy) / 100000.0, 0.1, 0.005);
}

TEST(CostModelTest, increasing_and_decreasing_are_exact_ramps) {
  const CostModel up = model("distribution = \"increasing\"\nmean_ms = 1.0\n", 4);
  const CostModel down = model("distribution = \"decreasing\"\nmean_ms = 1.0\n", 4);
  // 2 * mean * (t + 0.5) / N with N = 4: 0.25, 0.75, 1.25, 1.75 ms.
  EXPECT_DOUBLE_EQ(up.seconds(0), 0.00025);
  EXPECT_DOUBLE_EQ(up.seconds(3), 0.00175);
  EXPECT_DOUBLE_EQ(down.seconds(0), 0.00175);
  EXPECT_DOUBLE_EQ(down.seconds(3), 0.00025);
}

TEST(CostModelTest, costs_depend_only_on_seed_and_task) {
  const CostModel a = model("distribution = \"lognormal\"\nseed = 42\n");
  const CostModel b = model("distribution = \"lognormal\"\nseed = 42\n");
  const CostModel c = model("distribution = \"lognormal\"\nseed = 43\n");
  int differ = 0;
  for (TaskIndex t = 0; t < 1000; ++t) {
    ASSERT_EQ(a.seconds(t), b.seconds(t));
    differ += a.seconds(t) != c.seconds(t) ? 1 : 0;
  }
  EXPECT_EQ(differ, 1000);
}

TEST(CostModelTest, splitmix64_matches_the_reference_sequence) {
  // First outputs of splitmix64 seeded with 0 (Vigna's reference implementation).
  std::uint64_t state = 0;
  EXPECT_EQ(CostModel::splitmix64(state), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(CostModel::splitmix64(state), 0x6e789e6aa1b965f4ULL);
}

}  // namespace
}  // namespace taskfarm::app
