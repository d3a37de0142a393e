#pragma once
// The 2D Ising model (J = 1, no field, periodic L x L lattice): Metropolis and Wolff Monte Carlo,
// with binned jackknife error bars. Pure physics, no taskfarm: the app (ising.cpp) and the tests
// call it directly.

#include <cstdint>
#include <vector>

namespace taskfarm::apps::ising2d {

enum class Update { metropolis, wolff };

struct Run {
  int L = 16;
  double T = 2.269;
  std::uint64_t seed = 1;
  Update update = Update::metropolis;
  std::int64_t thermalize = 1000;  ///< sweeps discarded first
  std::int64_t measure = 10000;    ///< sweeps measured (one measurement per sweep)
  int bins = 32;                   ///< jackknife blocks (each block should span many tau_int)
};

/// @brief A mean and its standard error.
struct Estimate {
  double value = 0.0;
  double error = 0.0;
};

/// @brief Per-spin observables of one run.
struct Result {
  Estimate energy;          ///< <E>/N
  Estimate abs_m;           ///< <|M|>/N
  Estimate specific_heat;   ///< C = N beta^2 (<e^2> - <e>^2), e = E/N
  Estimate susceptibility;  ///< chi = N beta (<m^2> - <|m|>^2), m = M/N
  Estimate binder;          ///< U = 1 - <m^4> / (3 <m^2>^2)
  double tau_int = 0.0;     ///< integrated autocorrelation time (sweeps), the larger of e's and |m|'s
  double acceptance = 0.0;  ///< Metropolis: accepted / attempted flips (Wolff: NaN)
  double cluster_size = 0.0;  ///< Wolff: mean cluster size / N (Metropolis: NaN)
  std::uint64_t attempts = 0;  ///< spin-flip attempts (Metropolis) or spins flipped (Wolff), for speed figures
};

/// @brief Runs the chain. Deterministic: the same Run gives bit-identical results on any machine
/// with IEEE doubles (the random stream depends only on seed, L, T and the update).
[[nodiscard]] Result simulate(const Run& run);

/// @brief tau_int from binning (Janke 2002, eq. 38): (block length * variance of block means) /
/// (2 * variance of samples), with `bins` blocks.
[[nodiscard]] double tau_from_binning(const std::vector<double>& x, int bins);

}  // namespace taskfarm::apps::ising2d
