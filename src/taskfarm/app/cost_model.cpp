#include "taskfarm/app/cost_model.hpp"

#include <cmath>
#include <sstream>
#include <numbers>
#include <string>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/job/input_file.hpp"

namespace taskfarm::app {

namespace {

using Distribution = CostModel::Distribution;

struct NamedDistribution {
  const char* name;
  Distribution dist;
  double default_spread;
};

constexpr NamedDistribution kDistributions[] = {
    {"constant", Distribution::constant, 0.0},     {"uniform", Distribution::uniform, 1.0},
    {"normal", Distribution::normal, 0.25},        {"exponential", Distribution::exponential, 1.0},
    {"lognormal", Distribution::lognormal, 1.0},   {"gamma", Distribution::gamma, 1.0},
    {"bimodal", Distribution::bimodal, 0.0},       {"increasing", Distribution::increasing, 0.0},
    {"decreasing", Distribution::decreasing, 0.0}, {"file", Distribution::table, 0.0},
    {"replay", Distribution::table, 0.0},
};

/// Uniform in [0, 1) from the top 53 bits.
double uniform01(std::uint64_t& state) { return static_cast<double>(CostModel::splitmix64(state) >> 11) * 0x1.0p-53; }

/// Standard normal by Box–Muller (Box & Muller 1958); 1 - u keeps the log finite.
double standard_normal(std::uint64_t& state) {
  const double u1 = 1.0 - uniform01(state);
  const double u2 = uniform01(state);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

/// Gamma(k, 1) by Marsaglia & Tsang (2000); k < 1 via Gamma(k + 1) * U^(1/k).
double standard_gamma(double k, std::uint64_t& state) {
  if (k < 1.0) {
    const double g = standard_gamma(k + 1.0, state);
    return g * std::pow(1.0 - uniform01(state), 1.0 / k);
  }
  const double d = k - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x = 0.0;
    double v = 0.0;
    do {
      x = standard_normal(state);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = 1.0 - uniform01(state);
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) {
      return d * v;
    }
  }
}

std::vector<double> read_costs_file(const taskfarm::Settings& s, const std::string& path) {
  std::string text;
  try {
    text = job::read_input_file(path, std::uint64_t{1} << 30, "costs file");
  } catch (const InputError& e) {
    s.fail("costs_file", e.what());
  }
  std::istringstream in(text);
  std::vector<double> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos || line[line.find_first_not_of(" \t")] == '#') {
      continue;
    }
    try {
      std::size_t used = 0;
      const double ms = std::stod(line, &used);
      if (ms < 0 || !std::isfinite(ms)) {
        throw std::invalid_argument("negative");
      }
      out.push_back(ms * 1e-3);
    } catch (const std::exception&) {
      s.fail("costs_file", fmt::format("{}:{}: expected a non-negative number of milliseconds, got \"{}\"", path,
                                       lineno, line));
    }
  }
  if (out.empty()) {
    s.fail("costs_file", fmt::format("{} holds no costs", path));
  }
  return out;
}

std::vector<double> read_replay(const taskfarm::Settings& s, const std::string& path) {
  try {
    const io::ResultsFile file = io::ResultsFile::open(path);
    std::vector<double> out(file.n_tasks());
    file.read_tasks(file.seconds_column(), {0, file.n_tasks()}, out.data());
    return out;
  } catch (const Error& e) {
    s.fail("replay", e.what());
  }
}

}  // namespace

std::uint64_t CostModel::splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

CostModel CostModel::from_settings(const taskfarm::Settings& s, TaskIndex n_tasks) {
  CostModel m;
  m.n_tasks_ = n_tasks;
  const std::string name = s.text("distribution", "constant");
  const NamedDistribution* found = nullptr;
  for (const auto& d : kDistributions) {
    if (name == d.name) {
      found = &d;
    }
  }
  if (found == nullptr) {
    s.fail("distribution", fmt::format("unknown distribution \"{}\"; expected one of: constant, uniform, normal, "
                                       "exponential, lognormal, gamma, bimodal, increasing, decreasing, file, replay",
                                       name));
  }
  m.dist_ = found->dist;
  const double mean_ms = s.real("mean_ms", 1.0);
  if (mean_ms < 0 || !std::isfinite(mean_ms)) {
    s.fail("mean_ms", fmt::format("expected a non-negative number of milliseconds, got {}", mean_ms));
  }
  m.mean_ = mean_ms * 1e-3;
  m.spread_ = s.real("spread", found->default_spread);
  if (m.spread_ < 0 || (m.dist_ == Distribution::uniform && m.spread_ > 1.0) ||
      (m.dist_ == Distribution::gamma && m.spread_ == 0.0)) {
    s.fail("spread", fmt::format("{} is out of range for distribution \"{}\"", m.spread_, name));
  }
  m.seed_ = static_cast<std::uint64_t>(s.integer("seed", 1));
  m.heavy_fraction_ = s.real("heavy_fraction", 0.1);
  if (m.heavy_fraction_ <= 0 || m.heavy_fraction_ >= 1) {
    s.fail("heavy_fraction", fmt::format("expected a fraction in (0, 1), got {}", m.heavy_fraction_));
  }
  m.heavy_ratio_ = s.real("heavy_ratio", 10.0);
  if (m.heavy_ratio_ < 1) {
    s.fail("heavy_ratio", fmt::format("expected a ratio >= 1, got {}", m.heavy_ratio_));
  }
  if (name == "file") {
    m.table_ = std::make_shared<const std::vector<double>>(read_costs_file(s, s.input_path("costs_file")));
  } else if (name == "replay") {
    m.table_ = std::make_shared<const std::vector<double>>(read_replay(s, s.input_path("replay")));
  }
  return m;
}

double CostModel::seconds(TaskIndex task, double mean, double spread, std::uint64_t seed) const {
  if (dist_ == Distribution::constant) {
    return mean;
  }
  std::uint64_t state = seed ^ (task * 0xd1b54a32d192ed03ULL);
  splitmix64(state);  // decorrelate neighbouring task indices
  switch (dist_) {
    case Distribution::constant:
      return mean;
    case Distribution::uniform:  // U[mean (1 - spread), mean (1 + spread)]
      return mean * (1.0 + spread * (2.0 * uniform01(state) - 1.0));
    case Distribution::normal:  // N(mean, (spread mean)^2), truncated at 0
      return std::max(0.0, mean * (1.0 + spread * standard_normal(state)));
    case Distribution::exponential:
      return -mean * std::log(1.0 - uniform01(state));
    case Distribution::lognormal: {  // sigma = spread; mu chosen so that E[cost] = mean
      const double mu = std::log(mean) - 0.5 * spread * spread;
      return mean > 0 ? std::exp(mu + spread * standard_normal(state)) : 0.0;
    }
    case Distribution::gamma: {  // coefficient of variation = spread: shape k = 1/spread^2, scale mean/k
      const double k = 1.0 / (spread * spread);
      return standard_gamma(k, state) * mean / k;
    }
    case Distribution::bimodal: {  // heavy_fraction of tasks cost heavy_ratio times the others; E = mean
      const double light = mean / (1.0 - heavy_fraction_ + heavy_fraction_ * heavy_ratio_);
      return uniform01(state) < heavy_fraction_ ? light * heavy_ratio_ : light;
    }
    case Distribution::increasing:  // linear ramp from 0 to 2 mean
      return 2.0 * mean * (static_cast<double>(task) + 0.5) / static_cast<double>(n_tasks_);
    case Distribution::decreasing:
      return 2.0 * mean * (static_cast<double>(n_tasks_ - task) - 0.5) / static_cast<double>(n_tasks_);
    case Distribution::table:
      return (*table_)[task % table_->size()];
  }
  return mean;
}

}  // namespace taskfarm::app
