#include "taskfarm/job/param_space.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"

namespace taskfarm::job {

Axis Axis::integer_range(std::string name, std::int64_t start, std::int64_t stop, std::int64_t step) {
  if (step == 0) {
    throw InputError(fmt::format("axis '{}': range step must not be 0", name));
  }
  // Python's len(range(start, stop, step)); computed in unsigned to avoid overflow on wide spans.
  std::uint64_t n = 0;
  if (step > 0 && stop > start) {
    auto span = static_cast<std::uint64_t>(stop) - static_cast<std::uint64_t>(start);
    n = (span - 1) / static_cast<std::uint64_t>(step) + 1;
  } else if (step < 0 && stop < start) {
    auto span = static_cast<std::uint64_t>(start) - static_cast<std::uint64_t>(stop);
    n = (span - 1) / (0 - static_cast<std::uint64_t>(step)) + 1;
  }
  Axis ax(std::move(name), Kind::integer, Generator::range, n);
  ax.start_ = start;
  ax.step_ = step;
  return ax;
}

Axis Axis::linspace(std::string name, double a, double b, std::uint64_t n) {
  Axis ax(std::move(name), Kind::real, Generator::linspace, n);
  ax.a_ = a;
  ax.b_ = b;
  ax.real_step_ = n > 1 ? (b - a) / static_cast<double>(n - 1) : 0.0;
  return ax;
}

Axis Axis::logspace(std::string name, double a, double b, std::uint64_t n) {
  Axis ax = linspace(std::move(name), a, b, n);
  ax.gen_ = Generator::logspace;
  return ax;
}

Axis Axis::list(std::string name, std::vector<std::int64_t> values) {
  Axis ax(std::move(name), Kind::integer, Generator::list, values.size());
  ax.integers_ = std::move(values);
  return ax;
}

Axis Axis::list(std::string name, std::vector<double> values) {
  Axis ax(std::move(name), Kind::real, Generator::list, values.size());
  ax.reals_ = std::move(values);
  return ax;
}

Axis Axis::list(std::string name, std::vector<std::string> values) {
  Axis ax(std::move(name), Kind::text, Generator::list, values.size());
  ax.texts_ = std::move(values);
  return ax;
}

std::int64_t Axis::integer_at(std::uint64_t i) const {
  if (kind_ != Kind::integer) {
    throw Error(fmt::format("axis '{}' does not hold integers", name_));
  }
  if (gen_ == Generator::list) {
    return integers_[i];
  }
  // Two's-complement wrap-around is exact here because the result is known to lie in range.
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(start_) + i * static_cast<std::uint64_t>(step_));
}

std::pair<std::int64_t, std::int64_t> Axis::integer_bounds() const {
  if (kind_ != Kind::integer || size_ == 0) {
    throw Error(fmt::format("axis '{}' has no integer bounds", name_));
  }
  if (gen_ == Generator::list) {
    const auto [lo, hi] = std::minmax_element(integers_.begin(), integers_.end());
    return {*lo, *hi};
  }
  const std::int64_t first = integer_at(0);
  const std::int64_t last = integer_at(size_ - 1);
  return {std::min(first, last), std::max(first, last)};
}

std::pair<double, double> Axis::real_bounds() const {
  if (kind_ == Kind::integer) {
    const auto [lo, hi] = integer_bounds();
    return {static_cast<double>(lo), static_cast<double>(hi)};
  }
  if (kind_ != Kind::real || size_ == 0) {
    throw Error(fmt::format("axis '{}' has no numeric bounds", name_));
  }
  if (gen_ == Generator::list) {
    const auto [lo, hi] = std::minmax_element(reals_.begin(), reals_.end());
    return {*lo, *hi};
  }
  const double first = real_at(0);  // linspace and logspace are monotone
  const double last = real_at(size_ - 1);
  return {std::min(first, last), std::max(first, last)};
}

double Axis::real_at(std::uint64_t i) const {
  switch (kind_) {
    case Kind::integer:
      return static_cast<double>(integer_at(i));
    case Kind::text:
      throw Error(fmt::format("axis '{}' holds strings, not numbers", name_));
    case Kind::real:
      break;
  }
  if (gen_ == Generator::list) {
    return reals_[i];
  }
  // numpy.linspace: start + i*step, and the last sample is exactly `stop`.
  double v = (i + 1 == size_ && size_ > 1) ? b_ : a_ + static_cast<double>(i) * real_step_;
  return gen_ == Generator::logspace ? std::pow(10.0, v) : v;
}

const std::string& Axis::text_at(std::uint64_t i) const {
  if (kind_ != Kind::text) {
    throw Error(fmt::format("axis '{}' does not hold strings", name_));
  }
  return texts_[i];
}

std::string Axis::format_at(std::uint64_t i) const {
  switch (kind_) {
    case Kind::integer:
      return fmt::format("{}", integer_at(i));
    case Kind::real:
      return fmt::format("{}", real_at(i));
    case Kind::text:
      return fmt::format("\"{}\"", text_at(i));
  }
  return {};
}

std::string Axis::describe() const {
  switch (gen_) {
    case Generator::range:
      // Python's range(start, stop, step), stop exclusive: the value after the last one.
      return fmt::format("range({}, {}, {})", start_,
                         static_cast<std::int64_t>(static_cast<std::uint64_t>(start_) +
                                                   size_ * static_cast<std::uint64_t>(step_)),
                         step_);
    case Generator::linspace:
      return fmt::format("linspace({}, {}, {})", a_, b_, size_);
    case Generator::logspace:
      return fmt::format("logspace({}, {}, {})", a_, b_, size_);
    case Generator::list:
      break;
  }
  const char* what = kind_ == Kind::integer ? "integers" : kind_ == Kind::real ? "reals" : "strings";
  return fmt::format("list of {} {}", size_, what);
}

ParamSpace::ParamSpace(std::vector<Axis> axes, Combine combine) : axes_(std::move(axes)), combine_(combine) {
  if (axes_.empty()) {
    return;
  }
  strides_.assign(axes_.size(), 1);
  if (combine_ == Combine::zip) {
    size_ = axes_.front().size();
    for (const Axis& ax : axes_) {
      if (ax.size() != size_) {
        throw InputError(fmt::format("zipped axes must have equal lengths: '{}' has {} values, '{}' has {}",
                                     axes_.front().name(), size_, ax.name(), ax.size()));
      }
    }
    return;
  }
  size_ = 1;
  for (std::size_t k = axes_.size(); k-- > 0;) {
    strides_[k] = size_;
    const std::uint64_t n = axes_[k].size();
    if (n != 0 && size_ > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) / n) {
      throw InputError("the parameter space has more than 2^63 tasks");
    }
    size_ *= n;
  }
}

std::optional<std::size_t> ParamSpace::find(std::string_view name) const {
  for (std::size_t k = 0; k < axes_.size(); ++k) {
    if (axes_[k].name() == name) {
      return k;
    }
  }
  return std::nullopt;
}

TaskIndex ParamSpace::task_of(const std::vector<std::uint64_t>& positions) const {
  if (combine_ == Combine::zip) {
    return positions.empty() ? 0 : positions.front();
  }
  TaskIndex t = 0;
  for (std::size_t k = 0; k < axes_.size(); ++k) {
    t += positions[k] * strides_[k];
  }
  return t;
}

namespace {

/// One axis's value of one task, in a form both sides of match_tasks compare.
struct AxisValue {
  Axis::Kind kind;
  std::int64_t integer = 0;
  double real = 0.0;
  const std::string* text = nullptr;

  static AxisValue of(const ParamSpace& space, std::size_t axis, TaskIndex task) {
    const Axis& a = space.axes()[axis];
    AxisValue v{a.kind()};
    const std::uint64_t i = space.position(axis, task);
    switch (a.kind()) {
      case Axis::Kind::integer:
        v.integer = a.integer_at(i);
        v.real = static_cast<double>(v.integer);
        break;
      case Axis::Kind::real:
        v.real = a.real_at(i) + 0.0;  // -0 -> +0
        break;
      case Axis::Kind::text:
        v.text = &a.text_at(i);
        break;
    }
    return v;
  }
  friend bool operator==(const AxisValue& x, const AxisValue& y) {
    if ((x.kind == Axis::Kind::text) != (y.kind == Axis::Kind::text)) {
      return false;
    }
    if (x.kind == Axis::Kind::text) {
      return *x.text == *y.text;
    }
    if (x.kind == Axis::Kind::integer && y.kind == Axis::Kind::integer) {
      return x.integer == y.integer;
    }
    if (x.kind != y.kind) {  // an integer equals a real only if the real is exactly that integer
      const std::int64_t i = x.kind == Axis::Kind::integer ? x.integer : y.integer;
      const double r = x.kind == Axis::Kind::integer ? y.real : x.real;
      return r >= -0x1p63 && r < 0x1p63 && static_cast<double>(i) == r && static_cast<std::int64_t>(r) == i;
    }
    return x.real == y.real;
  }
  /// Equal values hash equally (an integer hashes as the real it equals).
  [[nodiscard]] std::uint64_t hash() const {
    std::uint64_t h = 14695981039346656037ULL;  // FNV-1a, 64-bit
    const auto mix = [&](const void* p, std::size_t n) {
      for (std::size_t k = 0; k < n; ++k) {
        h = (h ^ static_cast<const unsigned char*>(p)[k]) * 1099511628211ULL;
      }
    };
    if (kind == Axis::Kind::text) {
      mix(text->data(), text->size());
    } else {
      mix(&real, sizeof real);
    }
    return h;
  }
};

std::uint64_t task_hash(const ParamSpace& space, const std::vector<std::size_t>& axes, TaskIndex task) {
  std::uint64_t h = 0;
  for (std::size_t a : axes) {
    h = (h ^ AxisValue::of(space, a, task).hash()) * 0x9E3779B97F4A7C15ULL;  // order-dependent combine
  }
  return h;
}

bool same_axis(const Axis& x, const Axis& y) {
  if (x.name() != y.name() || x.kind() != y.kind() || x.size() != y.size()) {
    return false;
  }
  for (std::uint64_t i = 0; i < x.size(); ++i) {
    const bool equal = x.kind() == Axis::Kind::integer ? x.integer_at(i) == y.integer_at(i)
                       : x.kind() == Axis::Kind::real  ? x.real_at(i) == y.real_at(i)
                                                       : x.text_at(i) == y.text_at(i);
    if (!equal) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::vector<TaskIndex> match_tasks(const ParamSpace& before, const ParamSpace& after) {
  std::vector<TaskIndex> target(before.size(), kNoTask);
  const auto& xs = before.axes();
  const auto& ys = after.axes();
  if (xs.size() != ys.size()) {
    return target;
  }
  if (before.combine() == after.combine() && before.size() == after.size() &&
      std::equal(xs.begin(), xs.end(), ys.begin(), same_axis)) {
    for (TaskIndex t = 0; t < target.size(); ++t) {
      target[t] = t;  // the same space: every task is itself
    }
    return target;
  }
  // Axes of `before` in the order of `after`'s, by name.
  std::vector<std::size_t> before_axes;
  std::vector<std::size_t> after_axes;
  for (std::size_t a = 0; a < ys.size(); ++a) {
    const auto found = before.find(ys[a].name());
    if (!found) {
      return target;
    }
    before_axes.push_back(*found);
    after_axes.push_back(a);
  }
  std::vector<std::pair<std::uint64_t, TaskIndex>> keyed(before.size());
  for (TaskIndex t = 0; t < before.size(); ++t) {
    keyed[t] = {task_hash(before, before_axes, t), t};
  }
  std::sort(keyed.begin(), keyed.end());
  // Per run of equal hashes, where its unpaired tasks start: replicated value tuples (zip rows used
  // as repeats) pair up in O(1) each instead of rescanning the run.
  std::unordered_map<std::size_t, std::size_t> first_unpaired;
  for (TaskIndex u = 0; u < after.size(); ++u) {
    const std::uint64_t h = task_hash(after, after_axes, u);
    const auto run = std::lower_bound(keyed.begin(), keyed.end(), std::pair<std::uint64_t, TaskIndex>{h, 0});
    const auto run_at = static_cast<std::size_t>(run - keyed.begin());
    std::size_t& skip = first_unpaired.try_emplace(run_at, run_at).first->second;
    while (skip < keyed.size() && keyed[skip].first == h && target[keyed[skip].second] != kNoTask) {
      ++skip;
    }
    for (auto it = keyed.begin() + static_cast<std::ptrdiff_t>(skip); it != keyed.end() && it->first == h; ++it) {
      const TaskIndex t = it->second;
      if (target[t] != kNoTask) {
        continue;  // already paired with an earlier task of `after`
      }
      bool equal = true;
      for (std::size_t k = 0; k < after_axes.size() && equal; ++k) {
        equal = AxisValue::of(before, before_axes[k], t) == AxisValue::of(after, after_axes[k], u);
      }
      if (equal) {
        target[t] = u;
        break;
      }
    }
  }
  return target;
}

std::optional<std::string> unusable_axis_name(std::string_view name) {
  if (name.empty()) {
    return "it is empty";
  }
  if (name.size() > 255) {
    return "longer than 255 bytes";
  }
  if (name == "." || name == "..") {
    return "\".\" and \"..\" are reserved by HDF5";
  }
  for (const unsigned char c : name) {
    if (c == '/') {
      return "it contains '/' (HDF5's path separator)";
    }
    if (c < 0x20 || c == 0x7f) {
      return "it contains a control character";
    }
  }
  if (std::isspace(static_cast<unsigned char>(name.front())) != 0 ||
      std::isspace(static_cast<unsigned char>(name.back())) != 0) {
    return "it starts or ends with white space";
  }
  // Well-formed UTF-8 (netCDF and h5py decode names as UTF-8).
  for (std::size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > name.size()) {
      return "it is not valid UTF-8";
    }
    for (std::size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(name[i + k]) >> 6) != 0x2) {
        return "it is not valid UTF-8";
      }
    }
    i += len;
  }
  return std::nullopt;
}

}  // namespace taskfarm::job
