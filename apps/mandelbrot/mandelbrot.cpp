#include "mandelbrot.hpp"

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"

namespace taskfarm::apps {

namespace {

class Mandelbrot final : public app::Kernel {
 public:
  Mandelbrot(std::uint32_t width, std::int64_t height, std::array<double, 4> region, std::uint32_t max_iter,
             const job::ParamSpace& params, std::size_t row_axis)
      : width_(width), height_(height), region_(region), max_iter_(max_iter), params_(params), row_axis_(row_axis) {}

  std::vector<app::Field> schema() const override {
    return {{"iterations", ElementType::u32, {width_}, "", "escape iteration count per pixel (max_iter: inside the set)"}};
  }

  // A row's pixels depend on its `row` value and the settings, never on the task index.
  [[nodiscard]] bool results_follow_parameters() const override { return true; }

  void compute(TaskIndex task, const app::TaskOutput& out) override {
    const std::int64_t row = params_.integer(row_axis_, task);
    const auto [x0, x1, y0, y1] = region_;
    // Pixel centres, row 0 at the top. The arithmetic order is part of the contract: tests recompute
    // the image independently (numpy) and compare bytes; built with -ffp-contract=off (no FMA).
    const double cy = y1 - (y1 - y0) * (static_cast<double>(row) + 0.5) / static_cast<double>(height_);
    auto* iterations = out.field<std::uint32_t>(0);
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
  std::uint32_t width_;
  std::int64_t height_;
  std::array<double, 4> region_;
  std::uint32_t max_iter_;
  const job::ParamSpace& params_;
  std::size_t row_axis_;
};

std::unique_ptr<app::Kernel> make_mandelbrot(app::KernelContext& ctx) {
  const job::Settings& s = ctx.settings;
  const std::int64_t width = s.integer("width", 640);
  if (width < 1 || width > (1 << 20)) {
    s.fail("width", fmt::format("expected an integer in [1, 1048576], got {}", width));
  }
  const std::int64_t height = s.integer("height", 480);
  if (height < 1 || height > (1 << 24)) {
    s.fail("height", fmt::format("expected an integer in [1, 16777216], got {}", height));
  }
  const std::vector<double> r = s.reals("region", std::vector<double>{-2.5, 1.0, -1.25, 1.25});
  if (r.size() != 4 || !(r[0] < r[1]) || !(r[2] < r[3])) {
    s.fail("region", "expected [x0, x1, y0, y1] with x0 < x1 and y0 < y1");
  }
  const std::int64_t max_iter = s.integer("max_iter", 256);
  if (max_iter < 1 || max_iter > 1'000'000'000) {
    s.fail("max_iter", fmt::format("expected an integer in [1, 1000000000], got {}", max_iter));
  }
  if (ctx.params.empty()) {  // the natural parameter space: one task per row
    ctx.params = job::ParamSpace({job::Axis::integer_range("row", 0, height)}, job::Combine::product);
  }
  const auto row_axis = ctx.params.find("row");
  if (!row_axis || ctx.params.axes()[*row_axis].kind() != job::Axis::Kind::integer) {
    throw InputError(fmt::format("{}: [params] row: missing; mandelbrot needs an integer axis 'row' "
                                 "(or no [params] at all for one task per row)",
                                 s.file()));
  }
  const auto [lowest, highest] = ctx.params.axes()[*row_axis].integer_bounds();
  if (lowest < 0 || highest >= height) {
    throw InputError(fmt::format("{}: [params] row: value {} is outside [0, height = {})", s.file(),
                                 lowest < 0 ? lowest : highest, height));
  }
  return std::make_unique<Mandelbrot>(static_cast<std::uint32_t>(width), height,
                                      std::array<double, 4>{r[0], r[1], r[2], r[3]},
                                      static_cast<std::uint32_t>(max_iter), ctx.params, *row_axis);
}

}  // namespace

void register_mandelbrot(app::Registry& registry) {
  registry.add({"mandelbrot", "Mandelbrot set, one task per image row", make_mandelbrot});
}

}  // namespace taskfarm::apps
