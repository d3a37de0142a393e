#include "ising_model.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace taskfarm::apps::ising2d {

namespace {

/// splitmix64 (Steele, Lea & Flood 2014): seeds the generator.
std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// xoshiro256** (Blackman & Vigna 2018): fast, 256 bits of state, passes BigCrush.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& w : s_) {
      w = splitmix64(seed);
    }
  }
  std::uint64_t operator()() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform in [0, n).
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(((*this)() >> 32) * n >> 32); }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> s_{};
};

/// P < 1 as a threshold for a raw 64-bit draw: accept when draw < threshold (P = 1: always).
std::uint64_t threshold(double p) {
  if (p >= 1.0) {
    return std::numeric_limits<std::uint64_t>::max();
  }
  return static_cast<std::uint64_t>(std::ldexp(p, 64));
}

/// The task's own stream: from everything that defines the run, so two runs differing in any of
/// them never share random numbers, and a task gives the same numbers on every rank.
std::uint64_t stream_seed(const Run& run) {
  std::uint64_t t_bits = 0;
  std::memcpy(&t_bits, &run.T, sizeof t_bits);
  std::uint64_t state = run.seed;
  std::uint64_t h = splitmix64(state);
  state = h ^ static_cast<std::uint64_t>(run.L);
  h = splitmix64(state);
  state = h ^ t_bits;
  h = splitmix64(state);
  state = h ^ static_cast<std::uint64_t>(run.update);
  return splitmix64(state);
}

class Lattice {
 public:
  explicit Lattice(int L) : L_(L), n_(static_cast<std::size_t>(L) * L), spin_(n_, 1), left_(L), right_(L) {
    for (int j = 0; j < L; ++j) {
      left_[j] = (j + L - 1) % L;
      right_[j] = (j + 1) % L;
    }
  }
  [[nodiscard]] std::size_t size() const { return n_; }
  [[nodiscard]] int L() const { return L_; }

  /// E = -sum over bonds of s_i s_j; M = sum of s_i.
  void measure(std::int64_t& energy, std::int64_t& magnetisation) const {
    std::int64_t e = 0;
    std::int64_t m = 0;
    for (int r = 0; r < L_; ++r) {
      const int down = (r + 1) % L_;
      for (int c = 0; c < L_; ++c) {
        const int s = at(r, c);
        e -= s * (at(r, right_[c]) + at(down, c));  // each bond once: right and down
        m += s;
      }
    }
    energy = e;
    magnetisation = m;
  }

  /// One Metropolis sweep in typewriter order; returns accepted flips; keeps E and M current.
  std::uint64_t metropolis_sweep(Rng& rng, const std::array<std::uint64_t, 3>& accept, std::int64_t& energy,
                                 std::int64_t& magnetisation) {
    std::uint64_t accepted = 0;
    for (int r = 0; r < L_; ++r) {
      const std::int8_t* up = &spin_[static_cast<std::size_t>((r + L_ - 1) % L_) * L_];
      const std::int8_t* down = &spin_[static_cast<std::size_t>((r + 1) % L_) * L_];
      std::int8_t* row = &spin_[static_cast<std::size_t>(r) * L_];
      for (int c = 0; c < L_; ++c) {
        const int s = row[c];
        const int k = s * (up[c] + down[c] + row[left_[c]] + row[right_[c]]);  // dE = 2k, k in {-4..4}
        if (k <= 0 || rng() < accept[static_cast<std::size_t>(k / 2)]) {
          row[c] = static_cast<std::int8_t>(-s);
          energy += 2 * k;
          magnetisation -= 2 * s;
          ++accepted;
        }
      }
    }
    return accepted;
  }

  /// One Wolff cluster (Wolff 1989), grown from a random site with bond probability 1 - e^{-2 beta};
  /// returns its size. The cluster is flipped as it grows.
  std::size_t wolff_cluster(Rng& rng, std::uint64_t add, std::vector<std::uint32_t>& stack) {
    const std::uint32_t seed = rng.below(static_cast<std::uint32_t>(n_));
    const std::int8_t s = spin_[seed];
    spin_[seed] = static_cast<std::int8_t>(-s);
    stack.clear();
    stack.push_back(seed);
    std::size_t size = 1;
    while (!stack.empty()) {
      const std::uint32_t i = stack.back();
      stack.pop_back();
      const int r = static_cast<int>(i) / L_;
      const int c = static_cast<int>(i) % L_;
      const std::array<std::uint32_t, 4> neighbours{
          static_cast<std::uint32_t>(((r + L_ - 1) % L_) * L_ + c), static_cast<std::uint32_t>(((r + 1) % L_) * L_ + c),
          static_cast<std::uint32_t>(r * L_ + left_[c]), static_cast<std::uint32_t>(r * L_ + right_[c])};
      for (const std::uint32_t j : neighbours) {
        if (spin_[j] == s && rng() < add) {
          spin_[j] = static_cast<std::int8_t>(-s);
          stack.push_back(j);
          ++size;
        }
      }
    }
    return size;
  }

 private:
  [[nodiscard]] int at(int r, int c) const { return spin_[static_cast<std::size_t>(r) * L_ + c]; }
  int L_;
  std::size_t n_;
  std::vector<std::int8_t> spin_;
  std::vector<int> left_;
  std::vector<int> right_;
};

/// Sums of one block of measurements.
struct Sums {
  double n = 0, e = 0, e2 = 0, m = 0, m2 = 0, m4 = 0;
  Sums& operator+=(const Sums& o) {
    n += o.n, e += o.e, e2 += o.e2, m += o.m, m2 += o.m2, m4 += o.m4;
    return *this;
  }
  Sums& operator-=(const Sums& o) {
    n -= o.n, e -= o.e, e2 -= o.e2, m -= o.m, m2 -= o.m2, m4 -= o.m4;
    return *this;
  }
};

/// Jackknife over blocks (Efron 1982; blocks much longer than tau_int make it valid for correlated
/// data, Janke 2002): the estimator on all data, and its standard error.
template <class F>
Estimate jackknife(const std::vector<Sums>& blocks, const Sums& all, F f) {
  const double full = f(all);
  const std::size_t B = blocks.size();
  double mean = 0.0;
  std::vector<double> loo(B);
  for (std::size_t b = 0; b < B; ++b) {
    Sums rest = all;
    rest -= blocks[b];
    loo[b] = f(rest);
    mean += loo[b] / static_cast<double>(B);
  }
  double var = 0.0;
  for (double v : loo) {
    var += (v - mean) * (v - mean);
  }
  return {full, std::sqrt(var * static_cast<double>(B - 1) / static_cast<double>(B))};
}

}  // namespace

double tau_from_binning(const std::vector<double>& x, int bins) {
  const std::size_t len = x.size() / static_cast<std::size_t>(bins);
  if (len < 2) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const std::size_t n = len * static_cast<std::size_t>(bins);
  double mean = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    mean += x[i];
  }
  mean /= static_cast<double>(n);
  double var = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    var += (x[i] - mean) * (x[i] - mean);
  }
  var /= static_cast<double>(n - 1);
  if (var <= 0.0) {
    return 0.5;  // a frozen series: no correlation to speak of
  }
  double block_var = 0.0;
  for (int b = 0; b < bins; ++b) {
    double s = 0.0;
    for (std::size_t i = 0; i < len; ++i) {
      s += x[static_cast<std::size_t>(b) * len + i];
    }
    const double d = s / static_cast<double>(len) - mean;
    block_var += d * d;
  }
  block_var /= static_cast<double>(bins - 1);
  return 0.5 * static_cast<double>(len) * block_var / var;
}

Result simulate(const Run& run) {
  if (run.L < 2 || run.T <= 0 || run.measure < run.bins || run.bins < 2 || run.thermalize < 0) {
    throw std::invalid_argument("ising: need L >= 2, T > 0, bins >= 2, measure >= bins, thermalize >= 0");
  }
  const double beta = 1.0 / run.T;
  Lattice lattice(run.L);
  const double N = static_cast<double>(lattice.size());
  Rng rng(stream_seed(run));
  // Metropolis: a flip with k = s * (sum of neighbours) in {2, 4} costs dE = 2k: accepted with e^{-2 beta k}.
  const std::array<std::uint64_t, 3> accept{threshold(1.0), threshold(std::exp(-4.0 * beta)),
                                            threshold(std::exp(-8.0 * beta))};
  const std::uint64_t add = threshold(1.0 - std::exp(-2.0 * beta));  // Wolff bond probability
  std::vector<std::uint32_t> stack;
  stack.reserve(lattice.size());

  std::int64_t energy = 0;
  std::int64_t magnetisation = 0;
  lattice.measure(energy, magnetisation);
  std::uint64_t accepted = 0;
  std::uint64_t attempts = 0;
  std::uint64_t clusters = 0;
  std::uint64_t flipped = 0;
  std::uint64_t warm_clusters = 0;
  std::uint64_t warm_flipped = 0;
  std::uint64_t clusters_per_sweep = 1;
  auto sweep = [&](bool counting) {
    if (run.update == Update::metropolis) {
      const std::uint64_t a = lattice.metropolis_sweep(rng, accept, energy, magnetisation);
      if (counting) {
        accepted += a;
        attempts += lattice.size();
      }
    } else if (!counting) {  // thermalising: clusters until as many spins as the lattice holds flipped
      std::size_t total = 0;
      while (total < lattice.size()) {
        const std::size_t size = lattice.wolff_cluster(rng, add, stack);
        total += size;
        ++warm_clusters;
        warm_flipped += size;
      }
    } else {
      // Measuring: a fixed number of clusters per "sweep" (about N spins, from the thermalisation's
      // mean cluster size). Stopping after a number of flipped spins instead would make the time of a
      // measurement depend on the state (big clusters come from ordered states) and bias it.
      for (std::uint64_t k = 0; k < clusters_per_sweep; ++k) {
        flipped += lattice.wolff_cluster(rng, add, stack);
        ++clusters;
      }
      lattice.measure(energy, magnetisation);
    }
  };
  for (std::int64_t t = 0; t < run.thermalize; ++t) {
    sweep(false);
  }
  if (warm_clusters > 0) {
    const double mean = static_cast<double>(warm_flipped) / static_cast<double>(warm_clusters);
    clusters_per_sweep = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::llround(N / mean)));
  }
  std::vector<double> es(static_cast<std::size_t>(run.measure));
  std::vector<double> ms(static_cast<std::size_t>(run.measure));
  for (std::int64_t t = 0; t < run.measure; ++t) {
    sweep(true);
    es[static_cast<std::size_t>(t)] = static_cast<double>(energy) / N;
    ms[static_cast<std::size_t>(t)] = std::abs(static_cast<double>(magnetisation)) / N;
  }

  // Blocks of consecutive measurements (the last measure % bins are left out).
  const std::size_t len = es.size() / static_cast<std::size_t>(run.bins);
  std::vector<Sums> blocks(static_cast<std::size_t>(run.bins));
  Sums all;
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    for (std::size_t i = b * len; i < (b + 1) * len; ++i) {
      const double e = es[i];
      const double m = ms[i];
      const double m2 = m * m;
      blocks[b] += Sums{1.0, e, e * e, m, m2, m2 * m2};
    }
    all += blocks[b];
  }
  Result r;
  r.energy = jackknife(blocks, all, [](const Sums& s) { return s.e / s.n; });
  r.abs_m = jackknife(blocks, all, [](const Sums& s) { return s.m / s.n; });
  r.specific_heat = jackknife(blocks, all, [&](const Sums& s) {
    const double e = s.e / s.n;
    return N * beta * beta * (s.e2 / s.n - e * e);
  });
  r.susceptibility = jackknife(blocks, all, [&](const Sums& s) {
    const double m = s.m / s.n;
    return N * beta * (s.m2 / s.n - m * m);
  });
  r.binder = jackknife(blocks, all, [](const Sums& s) {
    const double m2 = s.m2 / s.n;
    return 1.0 - (s.m4 / s.n) / (3.0 * m2 * m2);
  });
  r.tau_int = std::max(tau_from_binning(es, run.bins), tau_from_binning(ms, run.bins));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.acceptance = run.update == Update::metropolis ? static_cast<double>(accepted) / static_cast<double>(attempts) : nan;
  r.cluster_size = run.update == Update::wolff ? static_cast<double>(flipped) / static_cast<double>(clusters) / N : nan;
  r.attempts = run.update == Update::metropolis ? attempts : flipped;
  return r;
}

}  // namespace taskfarm::apps::ising2d
