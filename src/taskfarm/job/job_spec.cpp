#include "taskfarm/job/job_spec.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/job/input_file.hpp"
#include "taskfarm/job/param_expression.hpp"
#include "taskfarm/job/task_table.hpp"

namespace taskfarm::job {

namespace {

int line_of(const toml::node& node) { return static_cast<int>(node.source().begin.line); }

[[noreturn]] void fail_at(const std::string& source, const toml::node& node, std::string_view where,
                          std::string_view message) {
  throw InputError(fmt::format("{}:{}: {}: {}", source, line_of(node), where, message));
}

/// Values no job needs and that would go wrong later: NaN or infinite numbers (a NaN axis value never
/// equals itself, so no resume could match it), and NUL characters (C APIs such as HDF5's cut a
/// string there, silently).
void reject_unusable_values(const std::string& source, const toml::node& node, const std::vector<std::string>& path) {
  // "[params] x", "[params.x] range": where the value is, as the other messages say it
  const auto where = [&] {
    if (path.size() < 2) {
      return path.empty() ? std::string("file") : fmt::format("[{}]", path[0]);
    }
    std::string table = path[0];
    for (std::size_t i = 1; i + 1 < path.size(); ++i) {
      table += "." + path[i];
    }
    return fmt::format("[{}] {}", table, path.back());
  };
  if (const toml::table* t = node.as_table()) {
    for (auto&& [key, child] : *t) {
      std::vector<std::string> inner = path;
      inner.emplace_back(key.str());
      if (inner.back().find('\0') != std::string::npos) {
        fail_at(source, child, where(), "a key contains a NUL character");
      }
      reject_unusable_values(source, child, inner);
    }
  } else if (const toml::array* a = node.as_array()) {
    for (const toml::node& item : *a) {
      reject_unusable_values(source, item, path);
    }
  } else if (const auto d = node.value_exact<double>()) {
    if (!std::isfinite(*d)) {
      fail_at(source, node, where(), fmt::format("expected a finite number, got {}", *d));
    }
  } else if (const auto str = node.value_exact<std::string>()) {
    if (str->find('\0') != std::string::npos) {
      fail_at(source, node, where(), "the string contains a NUL character (\\u0000)");
    }
  }
}

/// What an axis name must be so that HDF5 (a link name), netCDF readers and messages can hold it.
void check_axis_name(const std::string& source, const toml::node& node, const std::string& name) {
  if (const auto why = unusable_axis_name(name)) {
    fail_at(source, node, fmt::format("[params] {}", name), fmt::format("not a usable axis name: {}", *why));
  }
}

std::optional<Scalar> to_scalar(const toml::node& node) {
  if (auto v = node.value_exact<std::int64_t>()) {
    return Scalar{*v};
  }
  if (auto v = node.value_exact<double>()) {
    return Scalar{*v};
  }
  if (auto v = node.value_exact<bool>()) {
    return Scalar{*v};
  }
  if (auto v = node.value_exact<std::string>()) {
    return Scalar{*v};
  }
  return std::nullopt;
}

/// Converts a flat TOML table (scalars and arrays of scalars) into Settings.
Settings to_settings(const toml::table& table, const std::string& source, const std::string& section) {
  std::map<std::string, SettingValue, std::less<>> values;
  for (auto&& [key, node] : table) {
    const std::string where = fmt::format("[{}] {}", section, key.str());
    SettingValue sv;
    sv.line = line_of(node);
    if (auto s = to_scalar(node)) {
      sv.value = std::move(*s);
    } else if (const toml::array* arr = node.as_array()) {
      std::vector<Scalar> items;
      for (const toml::node& item : *arr) {
        auto s2 = to_scalar(item);
        if (!s2) {
          fail_at(source, item, where, "expected numbers, strings or booleans inside the array");
        }
        items.push_back(std::move(*s2));
      }
      sv.value = std::move(items);
    } else {
      fail_at(source, node, where, "expected a number, string, boolean or array");
    }
    values.emplace(std::string(key.str()), std::move(sv));
  }
  return Settings(source, section, std::move(values));
}

std::int64_t positive_count(const Settings& s, std::string_view key, std::int64_t fallback) {
  const std::int64_t v = s.integer(key, fallback);
  if (v < 0) {
    s.fail(key, fmt::format("expected a non-negative integer, got {}", v));
  }
  return v;
}

/// A strictly positive, finite real (a duration in `unit`).
double positive_real(const Settings& s, std::string_view key, std::string_view unit) {
  const double v = s.real(key);
  if (!(v > 0.0) || !std::isfinite(v)) {
    s.fail(key, fmt::format("expected a positive number of {}, got {}", unit, v));
  }
  return v;
}

/// A positive integer option, 0 when absent.
std::uint64_t optional_positive(const Settings& s, std::string_view key) {
  if (!s.has(key)) {
    return 0;
  }
  const std::int64_t v = s.integer(key);
  if (v < 1) {
    s.fail(key, fmt::format("expected a positive integer, got {}", v));
  }
  return static_cast<std::uint64_t>(v);
}

/// Rejects an option the chosen policy does not use: it would be silently ignored otherwise.
void only_for(const Settings& s, std::string_view key, schedule::PolicyKind kind,
              std::initializer_list<schedule::PolicyKind> users, std::string_view user_names) {
  if (s.has(key) && std::find(users.begin(), users.end(), kind) == users.end()) {
    s.fail(key, fmt::format("only {} {} {}; policy is \"{}\"", users.size() == 1 ? "policy" : "policies", user_names,
                            users.size() == 1 ? "uses it" : "use it", schedule::policy_name(kind)));
  }
}

ScheduleSpec parse_schedule(const Settings& s) {
  using schedule::PolicyKind;
  ScheduleSpec spec;
  const std::string name = s.text("policy", "fac");
  auto kind = schedule::parse_policy_kind(name);
  if (!kind) {
    s.fail("policy", fmt::format("unknown policy \"{}\"; expected one of: {}", name, schedule::policy_names_help()));
  }
  spec.policy.kind = *kind;
  spec.policy.chunk = static_cast<std::uint64_t>(positive_count(s, "chunk", 0));

  // fsc: an explicit chunk, or Kruskal & Weiss's optimal one from overhead and task-time spread.
  only_for(s, "overhead_us", *kind, {PolicyKind::fsc}, "\"fsc\"");
  only_for(s, "sigma_ms", *kind, {PolicyKind::fsc}, "\"fsc\"");
  const bool has_overhead = s.has("overhead_us");
  const bool has_sigma = s.has("sigma_ms");
  if (has_overhead) {
    spec.policy.overhead_seconds = positive_real(s, "overhead_us", "microseconds") * 1e-6;
  }
  if (has_sigma) {
    spec.policy.sigma_seconds = positive_real(s, "sigma_ms", "milliseconds") * 1e-3;
  }
  if (*kind == PolicyKind::fsc && spec.policy.chunk == 0) {
    if (!has_overhead && !has_sigma) {
      s.fail("chunk", "missing; policy \"fsc\" needs a positive chunk size, or overhead_us and sigma_ms to derive one");
    }
    if (!has_overhead) {
      s.fail("overhead_us", "missing; without chunk, policy \"fsc\" needs overhead_us (scheduling overhead per chunk, "
                            "microseconds) as well as sigma_ms");
    }
    if (!has_sigma) {
      s.fail("sigma_ms",
             "missing; without chunk, policy \"fsc\" needs sigma_ms (standard deviation of one task's time, "
             "milliseconds) as well as overhead_us");
    }
  }

  // tss: the first and last chunk of the trapezoid.
  only_for(s, "first", *kind, {PolicyKind::tss}, "\"tss\"");
  only_for(s, "last", *kind, {PolicyKind::tss}, "\"tss\"");
  spec.policy.first = optional_positive(s, "first");
  spec.policy.last = optional_positive(s, "last");
  if (spec.policy.first != 0 && spec.policy.last > spec.policy.first) {
    s.fail("last", fmt::format("must be at most first ({})", spec.policy.first));
  }

  // wf, awf*: one relative speed per computing rank (their number is checked when the run starts).
  only_for(
      s, "weights", *kind,
      {PolicyKind::wf, PolicyKind::awf, PolicyKind::awf_b, PolicyKind::awf_c, PolicyKind::awf_d, PolicyKind::awf_e},
      "wf, awf, awf-b, awf-c, awf-d and awf-e");
  if (s.has("weights")) {
    spec.policy.weights = s.reals("weights");
    if (spec.policy.weights.empty()) {
      s.fail("weights", "expected one positive weight per computing rank, got an empty list");
    }
    for (std::size_t i = 0; i < spec.policy.weights.size(); ++i) {
      const double w = spec.policy.weights[i];
      if (!(w > 0.0) || !std::isfinite(w)) {
        s.fail("weights", fmt::format("expected positive weights, got {} at position {}", w, i + 1));
      }
    }
  }
  spec.policy.min_chunk = static_cast<std::uint64_t>(positive_count(s, "min_chunk", 1));
  if (spec.policy.min_chunk == 0) {
    s.fail("min_chunk", "expected a positive integer, got 0");
  }
  spec.policy.max_chunk = static_cast<std::uint64_t>(positive_count(s, "max_chunk", 0));
  if (spec.policy.max_chunk != 0 && spec.policy.max_chunk < spec.policy.min_chunk) {
    s.fail("max_chunk", fmt::format("must be at least min_chunk ({})", spec.policy.min_chunk));
  }
  if (s.has("prefetch")) {
    const std::string as_text = [&] {
      try {
        return s.text("prefetch");
      } catch (const InputError&) {
        return std::string{};
      }
    }();
    if (as_text != "auto") {
      if (!as_text.empty()) {
        s.fail("prefetch", fmt::format("expected \"auto\" or an integer in [1, 4096], got \"{}\"", as_text));
      }
      const std::int64_t depth = s.integer("prefetch", 0);
      if (depth < 1 || depth > 4096) {
        s.fail("prefetch", fmt::format("expected \"auto\" or an integer in [1, 4096], got {}", depth));
      }
      spec.prefetch = static_cast<std::uint32_t>(depth);
    }
  }
  spec.master_computes = s.flag("master_computes", true);
  spec.speculate = s.flag("speculate", false);
  const std::int64_t groups = s.integer("groups", 0);
  if (groups < 0 || groups > 65536) {
    s.fail("groups", fmt::format("expected an integer in [0, 65536], got {}", groups));
  }
  spec.groups = static_cast<std::uint32_t>(groups);
  const std::string root = s.text("root_policy", "fac2");
  const auto root_kind = schedule::parse_policy_kind(root);
  if (!root_kind || *root_kind == schedule::PolicyKind::static_block || *root_kind == schedule::PolicyKind::fsc ||
      *root_kind == schedule::PolicyKind::wf) {
    s.fail("root_policy", fmt::format("expected a policy that needs no per-worker settings (ss, gss, tss, fac2, "
                                      "mfsc, awf*, af, auto), got \"{}\"", root));
  }
  spec.root_policy.kind = *root_kind;
  spec.order = parse_order(s.text("order", "index"), s.where("order"));
  s.reject_unknown();
  return spec;
}

/// Reads three numbers [a, b, n] of a linspace/logspace axis.
Axis parse_spaced_axis(const std::string& name, const Settings& s, std::string_view key) {
  const std::vector<double> v = s.reals(key);
  if (v.size() != 3) {
    s.fail(key, fmt::format("expected [start, stop, count], got {} numbers", v.size()));
  }
  if (v[2] < 1 || v[2] != static_cast<double>(static_cast<std::int64_t>(v[2]))) {
    s.fail(key, fmt::format("count must be a positive integer, got {}", v[2]));
  }
  const auto n = static_cast<std::uint64_t>(v[2]);
  return key == "linspace" ? Axis::linspace(name, v[0], v[1], n) : Axis::logspace(name, v[0], v[1], n);
}

Axis parse_axis(const std::string& source, const std::string& name, const toml::node& node) {
  const std::string where = fmt::format("[params] {}", name);
  if (const toml::array* arr = node.as_array()) {
    if (arr->empty()) {
      fail_at(source, node, where, "empty list; an axis needs at least one value");
    }
    if (arr->is_homogeneous<std::string>()) {
      std::vector<std::string> out;
      for (const toml::node& item : *arr) {
        out.push_back(*item.value<std::string>());
      }
      return Axis::list(name, std::move(out));
    }
    if (arr->is_homogeneous<std::int64_t>()) {
      std::vector<std::int64_t> out;
      for (const toml::node& item : *arr) {
        out.push_back(*item.value<std::int64_t>());
      }
      return Axis::list(name, std::move(out));
    }
    std::vector<double> out;
    for (const toml::node& item : *arr) {
      auto v = item.value<double>();  // integers convert
      if (!v || item.is_boolean()) {
        fail_at(source, item, where, "expected a list of integers, reals or strings (one kind)");
      }
      out.push_back(*v);
    }
    return Axis::list(name, std::move(out));
  }
  const toml::table* tbl = node.as_table();
  if (tbl == nullptr) {
    fail_at(source, node, where,
            "expected a list of values or a table { range = [start, stop(, step)] }, "
            "{ linspace = [start, stop, count] } or { logspace = [start, stop, count] }");
  }
  const Settings s = to_settings(*tbl, source, "params." + name);
  std::optional<Axis> axis;
  int generators = 0;
  if (s.has("range")) {
    ++generators;
    const std::vector<double> v = s.reals("range");
    if (v.size() != 2 && v.size() != 3) {
      s.fail("range", fmt::format("expected [start, stop] or [start, stop, step], got {} numbers", v.size()));
    }
    for (double x : v) {
      if (x != static_cast<double>(static_cast<std::int64_t>(x))) {
        s.fail("range", fmt::format("expected integers, got {}", x));
      }
    }
    const auto step = v.size() == 3 ? static_cast<std::int64_t>(v[2]) : 1;
    if (step == 0) {
      s.fail("range", "step must not be 0");
    }
    axis = Axis::integer_range(name, static_cast<std::int64_t>(v[0]), static_cast<std::int64_t>(v[1]), step);
  }
  for (const char* key : {"linspace", "logspace"}) {
    if (s.has(key)) {
      ++generators;
      axis = parse_spaced_axis(name, s, key);
    }
  }
  if (generators != 1) {
    fail_at(source, node, where, "expected exactly one of range, linspace, logspace");
  }
  s.reject_unknown();
  if (axis->size() == 0) {
    fail_at(source, node, where, fmt::format("{} is empty; an axis needs at least one value", axis->describe()));
  }
  return *axis;
}

ParamSpace parse_params(const std::string& source, const toml::table& table, std::vector<std::string>& task_files,
                        std::string& task_files_hash) {
  // A task table or a command list is the whole parameter space: one task per row or line.
  for (const char* key : {"table", "lines"}) {
    const toml::node* node = table.get(key);
    if (node == nullptr) {
      continue;
    }
    const std::string where = fmt::format("[params] {}", key);
    const auto path = node->value_exact<std::string>();
    if (!path || path->empty()) {
      fail_at(source, *node, where, "expected the path of a file");
    }
    if (table.size() != 1) {
      fail_at(source, *node, where,
              fmt::format("a {} is the whole [params] table: one task per {}; put other values in the file",
                          key == std::string_view("table") ? "task table" : "command list",
                          key == std::string_view("table") ? "row" : "line"));
    }
    task_files.push_back(*path);
    try {
      return key == std::string_view("table") ? read_task_table(*path, &task_files_hash)
                                              : read_task_lines(*path, &task_files_hash);
    } catch (const InputError& e) {
      fail_at(source, *node, where, e.what());
    }
  }
  // toml++ keeps keys sorted; the product's axis order is the order of the file, so sort by line.
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  Combine combine = Combine::product;
  for (auto&& [key, node] : table) {
    if (key.str() == "combine") {
      const auto v = node.value_exact<std::string>();
      if (v == "product") {
        combine = Combine::product;
      } else if (v == "zip") {
        combine = Combine::zip;
      } else {
        fail_at(source, node, "[params] combine", "expected \"product\" or \"zip\"");
      }
      continue;
    }
    entries.emplace_back(&key, &node);
  }
  std::sort(entries.begin(), entries.end(), [](const auto& x, const auto& y) {
    const auto& a = x.first->source().begin;
    const auto& b = y.first->source().begin;
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  std::vector<Axis> axes;
  for (const auto& [key, node] : entries) {
    check_axis_name(source, *node, std::string(key->str()));
    axes.push_back(parse_axis(source, std::string(key->str()), *node));
    const Axis& axis = axes.back();
    if (axis.kind() == Axis::Kind::real &&
        (!std::isfinite(axis.real_at(0)) || !std::isfinite(axis.real_at(axis.size() - 1)))) {
      fail_at(source, *node, fmt::format("[params] {}", key->str()),
              fmt::format("{} reaches a value that is not a finite number", axis.describe()));
    }
  }
  try {
    return ParamSpace(std::move(axes), combine);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: [params] {}", source, e.what()));
  }
}

const toml::table* sub_table(const std::string& source, const toml::table& root, std::string_view name) {
  const toml::node* node = root.get(name);
  if (node == nullptr) {
    return nullptr;
  }
  if (!node->is_table()) {
    fail_at(source, *node, name, "expected a table");
  }
  return node->as_table();
}

}  // namespace

std::string JobSpec::hash() const { return fnv1a_hex(text); }

JobSpec parse_job(std::string_view text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw InputError(fmt::format("{}:{}:{}: malformed TOML: {}", source, e.source().begin.line,
                                 e.source().begin.column, e.description()));
  }
  reject_unusable_values(source, root, {});
  for (auto&& [key, node] : root) {
    if (key.str() != "job" && key.str() != "schedule" && key.str() != "params" && key.str() != "app") {
      fail_at(source, node, fmt::format("[{}]", key.str()), "unknown table; expected [job], [schedule], [params] or [app]");
    }
  }
  JobSpec spec;
  spec.source = source;
  spec.text = std::string(text);

  const toml::table* job = sub_table(source, root, "job");
  if (job == nullptr) {
    throw InputError(fmt::format("{}: [job]: missing; expected a [job] table with at least app = \"...\"", source));
  }
  const Settings js = to_settings(*job, source, "job");
  spec.app = js.text("app");
  const std::string stem = std::filesystem::path(source).stem().string();
  spec.name = js.text("name", stem.empty() ? std::string("job") : stem);
  spec.output = js.text("output", spec.name + ".h5");
  if (spec.output.empty()) {
    js.fail("output", "expected a file path, got an empty string");
  }
  const std::int64_t retries = js.integer("retries", 2);
  if (retries < 0 || retries > 1000) {
    js.fail("retries", fmt::format("expected an integer in [0, 1000], got {}", retries));
  }
  spec.retries = static_cast<std::uint32_t>(retries);
  if (js.has("threads_per_task")) {
    const std::int64_t threads = js.integer("threads_per_task");
    if (threads < 1 || threads > 4096) {
      js.fail("threads_per_task", fmt::format("expected an integer in [1, 4096], got {}", threads));
    }
    spec.threads_per_task = static_cast<std::uint32_t>(threads);
  }
  spec.fail_fast = js.flag("fail_fast", false);
  const std::int64_t slots = js.integer("slots", 1);
  if (slots < 1 || slots > 4096) {
    js.fail("slots", fmt::format("expected an integer in [1, 4096], got {}", slots));
  }
  spec.slots = static_cast<std::uint32_t>(slots);
  if (js.has("expected_seconds")) {  // a number, or an expression over the parameters (checked with them)
    const toml::node* node = job->get("expected_seconds");
    if (const auto v = node->value<double>()) {
      if (*v < 0) {
        js.fail("expected_seconds", fmt::format("expected seconds >= 0, got {}", *v));
      }
      spec.expected_seconds = fmt::format("{}", *v);
    } else {
      spec.expected_seconds = js.text("expected_seconds");
    }
  }
  js.reject_unknown();

  const toml::table* sched = sub_table(source, root, "schedule");
  spec.schedule = parse_schedule(sched != nullptr ? to_settings(*sched, source, "schedule")
                                                  : Settings(source, "schedule", {}));
  if (const toml::table* params = sub_table(source, root, "params")) {
    spec.params = parse_params(source, *params, spec.task_files, spec.task_files_hash);
  }
  const toml::table* app = sub_table(source, root, "app");
  spec.app_settings = app != nullptr ? to_settings(*app, source, "app") : Settings(source, "app", {});
  if (!spec.expected_seconds.empty() && !spec.params.empty()) {  // else checked once the app gave its axes
    try {
      (void)ParamExpression::parse(spec.expected_seconds, spec.params);
    } catch (const InputError& e) {
      js.fail("expected_seconds", e.what());
    }
  }
  return spec;
}

std::vector<std::filesystem::path> JobSpec::inputs() const {
  std::vector<std::filesystem::path> out{source};
  out.insert(out.end(), task_files.begin(), task_files.end());
  out.insert(out.end(), app_settings.input_paths().begin(), app_settings.input_paths().end());
  return out;
}

std::string read_job_text(const std::filesystem::path& path) {
  return read_input_file(path, kMaxJobFileBytes, "job file");
}

JobSpec load_job(const std::filesystem::path& path) { return parse_job(read_job_text(path), path.string()); }

}  // namespace taskfarm::job
