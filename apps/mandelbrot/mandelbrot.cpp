// The Mandelbrot set, one task per image row: a built-in app written against the public API alone
// (taskfarm/taskfarm.hpp), as a user's kernel is.
#include "mandelbrot.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace taskfarm::apps {

namespace {

class Mandelbrot final : public Kernel {
 public:
  explicit Mandelbrot(Setup& setup) {
    const Settings& s = setup.settings();
    const std::int64_t width = s.integer("width", 640);
    if (width < 1 || width > (1 << 20)) {
      s.fail("width", fmt::format("expected an integer in [1, 1048576], got {}", width));
    }
    height_ = s.integer("height", 480);
    if (height_ < 1 || height_ > (1 << 24)) {
      s.fail("height", fmt::format("expected an integer in [1, 16777216], got {}", height_));
    }
    const std::vector<double> r = s.reals("region", std::vector<double>{-2.5, 1.0, -1.25, 1.25});
    if (r.size() != 4 || !(r[0] < r[1]) || !(r[2] < r[3])) {
      s.fail("region", "expected [x0, x1, y0, y1] with x0 < x1 and y0 < y1");
    }
    region_ = {r[0], r[1], r[2], r[3]};
    const std::int64_t max_iter = s.integer("max_iter", 256);
    if (max_iter < 1 || max_iter > 1'000'000'000) {
      s.fail("max_iter", fmt::format("expected an integer in [1, 1000000000], got {}", max_iter));
    }
    max_iter_ = static_cast<std::uint32_t>(max_iter);
    width_ = static_cast<std::uint32_t>(width);

    setup.default_params("row", 0, height_);  // no [params]: one task per image row
    if (!setup.has_param("row")) {
      setup.fail_param("row", "missing; mandelbrot needs an integer axis 'row' (or no [params] at all for one task "
                              "per row)");
    }
    row_ = setup.param<std::int64_t>("row");
    const auto [lowest, highest] = setup.bounds(row_);
    if (lowest < 0 || highest >= height_) {
      setup.fail_param("row", fmt::format("value {} is outside [0, height = {})", lowest < 0 ? lowest : highest,
                                          height_));
    }
    iterations_ = setup.field<std::uint32_t>("iterations", {width_}, "",
                                             "escape iteration count per pixel (max_iter: inside the set)");
  }

  // A row's pixels depend on its `row` value and the settings, never on the task index.
  [[nodiscard]] bool results_follow_parameters() const override { return true; }

  void compute(Task& task) override {
    const std::int64_t row = task.param(row_);
    const auto [x0, x1, y0, y1] = region_;
    // Pixel centres, row 0 at the top. The arithmetic order is part of the contract: tests recompute
    // the image independently (numpy) and compare bytes; built with -ffp-contract=off (no FMA).
    const double cy = y1 - (y1 - y0) * (static_cast<double>(row) + 0.5) / static_cast<double>(height_);
    const auto iterations = task.out(iterations_);
    for (std::uint32_t j = 0; j < width_; ++j) {
      const double cx = x0 + (x1 - x0) * (static_cast<double>(j) + 0.5) / static_cast<double>(width_);
      double zr = 0.0;
      double zi = 0.0;
      std::uint32_t n = 0;
      while (n < max_iter_) {
        const double zr2 = zr * zr;
        const double zi2 = zi * zi;
        if (zr2 + zi2 > 4.0) {
          break;
        }
        zi = 2.0 * zr * zi + cy;
        zr = zr2 - zi2 + cx;
        ++n;
      }
      iterations[j] = n;
    }
  }

 private:
  std::uint32_t width_ = 0;
  std::int64_t height_ = 0;
  std::array<double, 4> region_{};
  std::uint32_t max_iter_ = 0;
  Param<std::int64_t> row_;
  Output<std::uint32_t> iterations_;
};

}  // namespace

App mandelbrot() { return {"mandelbrot", "Mandelbrot set, one task per image row", make<Mandelbrot>}; }

}  // namespace taskfarm::apps
