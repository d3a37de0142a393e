#pragma once

#include <cmath>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace taskfarm::cli {

/// @brief A command-line number that must be finite and within [lo, hi]. CLI11's own range and
/// sign checks compare with < and >, which a NaN passes ("--checkpoint-seconds nan" was accepted
/// and then never checkpointed).
inline CLI::Validator finite_in(double lo, double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        double v = 0.0;
        std::size_t used = 0;
        try {
          v = std::stod(text, &used);
        } catch (const std::exception&) {
          return fmt::format("expected a number, got \"{}\"", text);
        }
        if (used != text.size() || !std::isfinite(v) || v < lo || v > hi) {
          return fmt::format("expected a finite number in [{}, {}], got \"{}\"", lo, hi, text);
        }
        return {};
      },
      fmt::format("NUMBER in [{}, {}]", lo, hi));
}

}  // namespace taskfarm::cli
