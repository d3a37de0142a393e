// The Ising app's physics against values computed here, independently of it: exact enumeration of
// the 4 x 4 periodic lattice (all 2^16 states), the T -> 0 and T -> infinity limits, the Binder
// cumulant crossing at Onsager's T_c, and error bars that match the spread over many seeds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "ising/ising_model.hpp"

namespace taskfarm::apps::ising2d {
namespace {

struct Exact {
  double energy;  // <E>/N
  double abs_m;   // <|M|>/N
  double heat;    // beta^2 (<E^2> - <E>^2) / N
};

/// Sums over every configuration of the 4 x 4 periodic lattice (bonds right and down, J = 1).
Exact enumerate_4x4(double T) {
  constexpr int L = 4;
  constexpr int N = L * L;
  const double beta = 1.0 / T;
  // Energies lie in [-32, 32]: shift by the ground state so no weight overflows.
  double z = 0, e1 = 0, e2 = 0, m1 = 0;
  for (std::uint32_t state = 0; state < (1U << N); ++state) {
    auto s = [&](int r, int c) { return ((state >> (((r + L) % L) * L + (c + L) % L)) & 1U) != 0 ? 1 : -1; };
    int e = 0;
    int m = 0;
    for (int r = 0; r < L; ++r) {
      for (int c = 0; c < L; ++c) {
        e -= s(r, c) * (s(r, c + 1) + s(r + 1, c));
        m += s(r, c);
      }
    }
    const double w = std::exp(-beta * (e + 2.0 * N));
    z += w;
    e1 += w * e;
    e2 += w * e * e;
    m1 += w * std::abs(m);
  }
  const double mean_e = e1 / z;
  return {mean_e / N, m1 / z / N, beta * beta * (e2 / z - mean_e * mean_e) / N};
}

// The enumeration itself, checked by the one value known in closed form: at T -> 0 the two ground
// states (E = -2N) dominate, and the 4 x 4 lattice's Z at beta = 0 is 2^16 (so <E> = 0).
TEST(IsingExactTest, enumeration_has_the_known_limits) {
  EXPECT_NEAR(enumerate_4x4(0.05).energy, -2.0, 1e-12);
  EXPECT_NEAR(enumerate_4x4(0.05).abs_m, 1.0, 1e-12);
  EXPECT_NEAR(enumerate_4x4(1e9).energy, 0.0, 1e-6);
}

class IsingExactAgreement : public ::testing::TestWithParam<std::tuple<Update, double>> {};

TEST_P(IsingExactAgreement, monte_carlo_agrees_with_exact_enumeration_within_four_sigma) {
  const auto [update, T] = GetParam();
  const Exact exact = enumerate_4x4(T);
  ising2d::Run run;
  run.L = 4;
  run.T = T;
  run.seed = 12345;
  run.update = update;
  run.thermalize = 2000;
  run.measure = 200000;
  run.bins = 50;
  const Result r = simulate(run);
  EXPECT_NEAR(r.energy.value, exact.energy, 4 * r.energy.error) << "error " << r.energy.error;
  EXPECT_NEAR(r.abs_m.value, exact.abs_m, 4 * r.abs_m.error) << "error " << r.abs_m.error;
  EXPECT_NEAR(r.specific_heat.value, exact.heat, 4 * r.specific_heat.error) << "error " << r.specific_heat.error;
  // error bars that mean something: small, but not vanishing
  EXPECT_GT(r.energy.error, 0.0);
  EXPECT_LT(r.energy.error, 0.01);
  if (update == Update::metropolis) {
    EXPECT_GT(r.acceptance, 0.0);
    EXPECT_LT(r.acceptance, 1.0);
    EXPECT_TRUE(std::isnan(r.cluster_size));
  } else {
    EXPECT_GT(r.cluster_size, 0.0);
    EXPECT_LE(r.cluster_size, 1.0);
    EXPECT_TRUE(std::isnan(r.acceptance));
  }
}

INSTANTIATE_TEST_SUITE_P(BothUpdates, IsingExactAgreement,
                         ::testing::Combine(::testing::Values(Update::metropolis, Update::wolff),
                                            ::testing::Values(1.5, 2.269, 3.0)),
                         [](const auto& p) {
                           return std::string(std::get<0>(p.param) == Update::metropolis ? "metropolis"
                                                                                            : "wolff") +
                                  "_T" + std::to_string(static_cast<int>(std::get<1>(p.param) * 1000));
                         });

TEST(IsingLimitsTest, ordered_when_cold_disordered_when_hot) {
  for (const Update update : {Update::metropolis, Update::wolff}) {
    const ising2d::Run cold{8, 0.5, 7, update, 500, 2000, 20};
    const Result c = simulate(cold);
    EXPECT_NEAR(c.energy.value, -2.0, 1e-3);
    EXPECT_NEAR(c.abs_m.value, 1.0, 1e-3);
    // Hot: the high-temperature series starts E/N = -2 tanh(beta) (Domb 1960), corrections O(tanh^3);
    // |m| ~ sqrt(2 / (pi N)) = 0.10 for independent spins. T = 20, not infinity: sequential Metropolis
    // at beta -> 0 accepts every flip and only reverses the lattice each sweep.
    const double T = 20.0;
    const ising2d::Run hot{8, T, 7, update, 2000, 20000, 20};
    const Result h = simulate(hot);
    EXPECT_NEAR(h.energy.value, -2.0 * std::tanh(1.0 / T), 0.005) << "error " << h.energy.error;
    EXPECT_NEAR(h.abs_m.value, std::sqrt(2.0 / (std::acos(-1.0) * 64)), 0.02);
  }
}

TEST(IsingDeterminismTest, the_same_run_gives_the_same_bits_and_other_seeds_differ) {
  const ising2d::Run a{6, 2.4, 3, Update::metropolis, 100, 1000, 10};
  const Result r1 = simulate(a);
  const Result r2 = simulate(a);
  EXPECT_EQ(r1.energy.value, r2.energy.value);
  EXPECT_EQ(r1.binder.error, r2.binder.error);
  ising2d::Run b = a;
  b.seed = 4;
  EXPECT_NE(simulate(b).energy.value, r1.energy.value);
}

// Onsager: T_c = 2 / ln(1 + sqrt(2)) (Onsager 1944). The Binder cumulants of L = 8 and L = 16 cross
// within a few percent of it (finite-size corrections shift the crossing slightly).
TEST(IsingCriticalTest, binder_cumulants_of_two_sizes_cross_near_onsagers_tc) {
  const double tc = 2.0 / std::log(1.0 + std::sqrt(2.0));
  const std::vector<double> temps{2.15, 2.21, 2.27, 2.33, 2.39};
  std::vector<double> diff;
  for (double T : temps) {
    const Result small = simulate({8, T, 11, Update::wolff, 500, 20000, 20});
    const Result large = simulate({16, T, 11, Update::wolff, 500, 20000, 20});
    diff.push_back(large.binder.value - small.binder.value);  // > 0 below T_c, < 0 above
  }
  EXPECT_GT(diff.front(), 0.0);
  EXPECT_LT(diff.back(), 0.0);
  double crossing = std::nan("");
  for (std::size_t i = 0; i + 1 < temps.size(); ++i) {
    if (diff[i] > 0 && diff[i + 1] <= 0) {  // linear interpolation of the sign change
      crossing = temps[i] + (temps[i + 1] - temps[i]) * diff[i] / (diff[i] - diff[i + 1]);
      break;
    }
  }
  ASSERT_FALSE(std::isnan(crossing));
  EXPECT_NEAR(crossing / tc, 1.0, 0.03) << "crossing at T = " << crossing << ", T_c = " << tc;
}

// Over 40 independent seeds, (estimate - exact) / reported error has mean square ~ 1: the error bars
// are neither too small (mean square >> 1) nor far too large (<< 1). 40 values: the mean square has
// a standard deviation of ~0.22 for honest errors; the tolerance is generous.
TEST(IsingErrorBarTest, reported_errors_match_the_spread_over_seeds) {
  const double T = 2.5;
  const Exact exact = enumerate_4x4(T);
  for (const Update update : {Update::metropolis, Update::wolff}) {
    double z2_energy = 0;
    double z2_m = 0;
    constexpr int kSeeds = 40;
    for (int seed = 1; seed <= kSeeds; ++seed) {
      const Result r = simulate({4, T, static_cast<std::uint64_t>(seed), update, 500, 10000, 20});
      z2_energy += std::pow((r.energy.value - exact.energy) / r.energy.error, 2) / kSeeds;
      z2_m += std::pow((r.abs_m.value - exact.abs_m) / r.abs_m.error, 2) / kSeeds;
    }
    EXPECT_GT(z2_energy, 0.4);
    EXPECT_LT(z2_energy, 2.0);
    EXPECT_GT(z2_m, 0.4);
    EXPECT_LT(z2_m, 2.0);
  }
}

}  // namespace
}  // namespace taskfarm::apps::ising2d
