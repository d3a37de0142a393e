#include "taskfarm/job/task_order.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/job/param_expression.hpp"

namespace taskfarm::job {

namespace {

constexpr std::string_view by_prefix = "by:";
constexpr std::string_view cost_prefix = "cost:";

bool sorted(OrderSpec::Kind kind) {
  return kind == OrderSpec::Kind::ascending || kind == OrderSpec::Kind::descending;
}

ParamExpression parse_expression(const OrderSpec& spec, const ParamSpace& params) {
  try {
    return ParamExpression::parse(spec.expression, params);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", spec.where, e.what()));
  }
}

}  // namespace

std::string OrderSpec::text() const {
  switch (kind) {
    case Kind::index:
      return "index";
    case Kind::reverse:
      return "reverse";
    case Kind::ascending:
      return std::string(by_prefix) + expression;
    case Kind::descending:
      return std::string(cost_prefix) + expression;
  }
  return "index";
}

OrderSpec parse_order(const std::string& text, const std::string& where) {
  OrderSpec spec;
  spec.where = where;
  if (text == "index") {
    spec.kind = OrderSpec::Kind::index;
  } else if (text == "reverse") {
    spec.kind = OrderSpec::Kind::reverse;
  } else if (text.starts_with(by_prefix)) {
    spec.kind = OrderSpec::Kind::ascending;
    spec.expression = text.substr(by_prefix.size());
  } else if (text.starts_with(cost_prefix)) {
    spec.kind = OrderSpec::Kind::descending;
    spec.expression = text.substr(cost_prefix.size());
  } else {
    throw InputError(fmt::format("{}: expected \"index\", \"reverse\", \"by:<expression>\" (smallest value first) "
                                 "or \"cost:<expression>\" (largest value first), got \"{}\"",
                                 where, text));
  }
  return spec;
}

void check_order(const OrderSpec& spec, const ParamSpace& params) {
  if (sorted(spec.kind)) {
    (void)parse_expression(spec, params);
  }
}

TaskOrder TaskOrder::build(const OrderSpec& spec, const ParamSpace& params) {
  TaskOrder order(params.size());
  order.kind_ = spec.kind;
  if (!sorted(spec.kind)) {
    return order;
  }
  const ParamExpression expr = parse_expression(spec, params);
  const TaskIndex n = params.size();
  std::vector<double> key(n);
  for (TaskIndex t = 0; t < n; ++t) {
    const double v = expr.evaluate(t);
    key[t] = spec.kind == OrderSpec::Kind::descending ? -v : v;
  }
  order.tasks_.resize(n);
  std::iota(order.tasks_.begin(), order.tasks_.end(), TaskIndex{0});
  // A strict weak order even with NaN: every NaN after every number, ties keep index order (stable).
  std::stable_sort(order.tasks_.begin(), order.tasks_.end(), [&](TaskIndex a, TaskIndex b) {
    const double x = key[a];
    const double y = key[b];
    if (std::isnan(x) || std::isnan(y)) {
      return !std::isnan(x) && std::isnan(y);
    }
    return x < y;
  });
  return order;
}

void TaskOrder::runs(TaskRange positions, std::vector<Run>& out) const {
  out.clear();
  if (positions.empty()) {
    return;
  }
  if (!sorted(kind_)) {
    out.push_back({positions.begin, positions.size(), task(Position{positions.begin}), kind_ == OrderSpec::Kind::reverse});
    return;
  }
  TaskIndex p = positions.begin;
  while (p < positions.end) {
    Run run{p, 1, tasks_[p], false};
    if (p + 1 < positions.end) {
      if (tasks_[p + 1] == run.first_task + 1) {
        while (p + run.length < positions.end && tasks_[p + run.length] == run.first_task + run.length) {
          ++run.length;
        }
      } else if (tasks_[p + 1] + 1 == run.first_task) {
        run.descending = true;
        while (p + run.length < positions.end && tasks_[p + run.length] + run.length == run.first_task) {
          ++run.length;
        }
      }
    }
    out.push_back(run);
    p += run.length;
  }
}

std::vector<TaskRange> TaskOrder::positions_of(const std::vector<TaskRange>& tasks) const {
  if (kind_ == OrderSpec::Kind::index) {
    return tasks;
  }
  std::vector<TaskRange> out;
  if (kind_ == OrderSpec::Kind::reverse) {
    for (auto it = tasks.rbegin(); it != tasks.rend(); ++it) {
      out.push_back({n_ - it->end, n_ - it->begin});
    }
    return out;
  }
  std::vector<bool> wanted(n_, false);
  for (const TaskRange& r : tasks) {
    std::fill(wanted.begin() + static_cast<std::ptrdiff_t>(r.begin), wanted.begin() + static_cast<std::ptrdiff_t>(r.end),
              true);
  }
  for (TaskIndex p = 0; p < n_; ++p) {
    if (!wanted[tasks_[p]]) {
      continue;
    }
    if (!out.empty() && out.back().end == p) {
      ++out.back().end;
    } else {
      out.push_back({p, p + 1});
    }
  }
  return out;
}

std::map<TaskIndex, std::uint32_t> TaskOrder::by_position(const std::map<TaskIndex, std::uint32_t>& per_task) const {
  if (kind_ == OrderSpec::Kind::index || per_task.empty()) {
    return per_task;
  }
  std::map<TaskIndex, std::uint32_t> out;
  if (kind_ == OrderSpec::Kind::reverse) {
    for (const auto& [t, v] : per_task) {
      out.emplace(n_ - 1 - t, v);
    }
    return out;
  }
  for (TaskIndex p = 0; p < n_; ++p) {
    if (auto it = per_task.find(task(Position{p})); it != per_task.end()) {
      out.emplace(p, it->second);
    }
  }
  return out;
}

}  // namespace taskfarm::job
