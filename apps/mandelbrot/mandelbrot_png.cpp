// mandelbrot_png OUT.h5 OUT.png: renders /results/iterations of a mandelbrot job as a PNG.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "png.hpp"
#include "taskfarm/io/results_file.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    fmt::print(stderr, "usage: mandelbrot_png OUT.h5 OUT.png\n");
    return 2;
  }
  try {
    const taskfarm::io::ResultsFile file = taskfarm::io::ResultsFile::open(argv[1]);
    if (file.result_count() < 1 || file.column(0).name != "iterations" || file.column(0).shape.size() != 1) {
      throw taskfarm::InputError(fmt::format("{}: not a mandelbrot output (no /results/iterations)", argv[1]));
    }
    const auto width = static_cast<std::uint32_t>(file.column(0).shape[0]);
    const auto height = static_cast<std::uint32_t>(file.n_tasks());
    std::vector<std::uint32_t> iterations(static_cast<std::size_t>(width) * height);
    file.read_tasks(0, {0, height}, iterations.data());
    const std::uint32_t inside = *std::max_element(iterations.begin(), iterations.end());
    std::vector<std::uint8_t> rgb(iterations.size() * 3);
    for (std::size_t i = 0; i < iterations.size(); ++i) {
      if (iterations[i] == inside) {
        continue;  // black
      }
      // Smooth palette from Bernstein polynomials of t in [0, 1).
      const double t = std::log1p(iterations[i]) / std::log1p(inside);
      rgb[3 * i + 0] = static_cast<std::uint8_t>(255 * std::min(1.0, 9.0 * (1 - t) * t * t * t));
      rgb[3 * i + 1] = static_cast<std::uint8_t>(255 * std::min(1.0, 15.0 * (1 - t) * (1 - t) * t * t));
      rgb[3 * i + 2] = static_cast<std::uint8_t>(255 * std::min(1.0, 8.5 * (1 - t) * (1 - t) * (1 - t) * t));
    }
    taskfarm::apps::write_png(argv[2], width, height, rgb);
    fmt::print("mandelbrot_png: wrote {} ({} x {})\n", argv[2], width, height);
  } catch (const taskfarm::InputError& e) {
    fmt::print(stderr, "mandelbrot_png: error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "mandelbrot_png: error: {}\n", e.what());
    return 3;
  }
  return 0;
}
