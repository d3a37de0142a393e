// ising_bench: spin-flip attempts per second on one core, per update method, lattice size and
// temperature (release build: build/release/tests/ising_bench). Prints figures, never fails.
// Metropolis counts attempted flips (N per sweep); Wolff counts spins flipped in clusters.
#include <chrono>
#include <cstdio>
#include <initializer_list>

#include "ising/ising_model.hpp"

using taskfarm::apps::ising2d::Run;
using taskfarm::apps::ising2d::Update;

int main() {
  std::printf("| update | L | T | sweeps | seconds | M spin updates/s (one core) | tau_int |\n|---|---:|---:|---:|---:|---:|---:|\n");
  for (const Update update : {Update::metropolis, Update::wolff}) {
    for (const int L : {16, 64, 256}) {
      for (const double T : {1.5, 2.269, 3.5}) {
        const std::int64_t sweeps = L == 256 ? 400 : L == 64 ? 4000 : 40000;
        const Run run{L, T, 1, update, sweeps / 10, sweeps, 20};
        const auto t0 = std::chrono::steady_clock::now();
        const auto r = taskfarm::apps::ising2d::simulate(run);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        // thermalisation sweeps cost the same as measured ones: count them too
        const double updates = static_cast<double>(r.attempts) * 1.1;
        std::printf("| %s | %d | %.3f | %lld | %.2f | %.0f | %.1f |\n",
                    update == Update::metropolis ? "metropolis" : "wolff", L, T,
                    static_cast<long long>(sweeps), s, updates / s / 1e6, r.tau_int);
      }
    }
  }
}
