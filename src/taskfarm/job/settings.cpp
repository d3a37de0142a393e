#include "taskfarm/job/settings.hpp"

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/taskfarm.hpp"

namespace taskfarm::job {

std::string describe(const Scalar& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return fmt::format("\"{}\"", v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else {
          return fmt::format("{}", v);
        }
      },
      value);
}

namespace {

std::string describe_value(const SettingValue& v) {
  if (const auto* s = std::get_if<Scalar>(&v.value)) {
    return describe(*s);
  }
  return "an array";
}

}  // namespace

Settings::Settings(std::string file, std::string section, std::map<std::string, SettingValue, std::less<>> values)
    : file_(std::move(file)), section_(std::move(section)), values_(std::move(values)) {}

bool Settings::has(std::string_view key) const {
  asked_.insert(std::string(key));  // a key a caller probes for is a known key
  return values_.find(key) != values_.end();
}

const SettingValue* Settings::lookup(std::string_view key) const {
  asked_.insert(std::string(key));
  auto it = values_.find(key);
  return it == values_.end() ? nullptr : &it->second;
}

std::string Settings::where(std::string_view key) const {
  auto it = values_.find(key);
  if (it != values_.end() && it->second.line > 0) {
    return fmt::format("{}:{}: [{}] {}", file_, it->second.line, section_, key);
  }
  return fmt::format("{}: [{}] {}", file_, section_, key);
}

std::string Settings::input_path(std::string_view key) const {
  std::string path = text(key);
  if (path.empty()) {
    fail(key, "expected a file path, got an empty string");
  }
  inputs_.push_back(path);
  return path;
}

bool Settings::same_values(const Settings& other) const {
  if (values_.size() != other.values_.size()) {
    return false;
  }
  for (auto a = values_.begin(), b = other.values_.begin(); a != values_.end(); ++a, ++b) {
    if (a->first != b->first || a->second.value != b->second.value) {
      return false;
    }
  }
  return true;
}

void Settings::fail(std::string_view key, std::string_view message) const {
  throw InputError(fmt::format("{}: {}", where(key), message));
}

std::int64_t Settings::integer(std::string_view key, std::optional<std::int64_t> fallback) const {
  const SettingValue* v = lookup(key);
  if (v == nullptr) {
    if (fallback) {
      return *fallback;
    }
    fail(key, "missing; expected an integer");
  }
  const auto* s = std::get_if<Scalar>(&v->value);
  const auto* i = s != nullptr ? std::get_if<std::int64_t>(s) : nullptr;
  if (i == nullptr) {
    fail(key, fmt::format("expected an integer, got {}", describe_value(*v)));
  }
  return *i;
}

double Settings::real(std::string_view key, std::optional<double> fallback) const {
  const SettingValue* v = lookup(key);
  if (v == nullptr) {
    if (fallback) {
      return *fallback;
    }
    fail(key, "missing; expected a number");
  }
  if (const auto* s = std::get_if<Scalar>(&v->value)) {
    if (const auto* d = std::get_if<double>(s)) {
      return *d;
    }
    if (const auto* i = std::get_if<std::int64_t>(s)) {
      return static_cast<double>(*i);
    }
  }
  fail(key, fmt::format("expected a number, got {}", describe_value(*v)));
}

bool Settings::flag(std::string_view key, std::optional<bool> fallback) const {
  const SettingValue* v = lookup(key);
  if (v == nullptr) {
    if (fallback) {
      return *fallback;
    }
    fail(key, "missing; expected true or false");
  }
  const auto* s = std::get_if<Scalar>(&v->value);
  const auto* b = s != nullptr ? std::get_if<bool>(s) : nullptr;
  if (b == nullptr) {
    fail(key, fmt::format("expected true or false, got {}", describe_value(*v)));
  }
  return *b;
}

std::string Settings::text(std::string_view key, std::optional<std::string> fallback) const {
  const SettingValue* v = lookup(key);
  if (v == nullptr) {
    if (fallback) {
      return *fallback;
    }
    fail(key, "missing; expected a string");
  }
  const auto* s = std::get_if<Scalar>(&v->value);
  const auto* t = s != nullptr ? std::get_if<std::string>(s) : nullptr;
  if (t == nullptr) {
    fail(key, fmt::format("expected a string, got {}", describe_value(*v)));
  }
  return *t;
}

const std::vector<Scalar>* Settings::array(std::string_view key, bool has_fallback, std::string_view what) const {
  const SettingValue* v = lookup(key);
  if (v == nullptr) {
    if (has_fallback) {
      return nullptr;
    }
    fail(key, fmt::format("missing; expected an array of {}", what));
  }
  const auto* a = std::get_if<std::vector<Scalar>>(&v->value);
  if (a == nullptr) {
    fail(key, fmt::format("expected an array of {}, got {}", what, describe_value(*v)));
  }
  return a;
}

std::vector<double> Settings::reals(std::string_view key, std::optional<std::vector<double>> fallback) const {
  const std::vector<Scalar>* a = array(key, fallback.has_value(), "numbers");
  if (a == nullptr) {
    return *fallback;
  }
  std::vector<double> out;
  for (const Scalar& s : *a) {
    if (const auto* d = std::get_if<double>(&s)) {
      out.push_back(*d);
    } else if (const auto* i = std::get_if<std::int64_t>(&s)) {
      out.push_back(static_cast<double>(*i));
    } else {
      fail(key, fmt::format("expected an array of numbers, found {}", describe(s)));
    }
  }
  return out;
}

std::vector<std::string> Settings::texts(std::string_view key, std::optional<std::vector<std::string>> fallback) const {
  const std::vector<Scalar>* a = array(key, fallback.has_value(), "strings");
  if (a == nullptr) {
    return *fallback;
  }
  std::vector<std::string> out;
  for (const Scalar& s : *a) {
    const auto* t = std::get_if<std::string>(&s);
    if (t == nullptr) {
      fail(key, fmt::format("expected an array of strings, found {}", describe(s)));
    }
    out.push_back(*t);
  }
  return out;
}

void Settings::reject_unknown() const {
  for (const auto& [key, value] : values_) {
    if (!asked_.contains(key)) {
      std::string known;
      for (const auto& k : asked_) {
        known += known.empty() ? k : ", " + k;
      }
      fail(key, known.empty() ? "unknown key; this section takes no settings"
                              : fmt::format("unknown key; expected one of: {}", known));
    }
  }
}

}  // namespace taskfarm::job

// -- The public view (taskfarm/taskfarm.hpp): the same accessors, for kernels --------------------------

namespace taskfarm {

taskfarm::Settings job::Settings::view() const { return taskfarm::Settings(*this); }

bool Settings::has(std::string_view key) const { return impl_.has(key); }
std::int64_t Settings::integer(std::string_view key, std::optional<std::int64_t> fallback) const {
  return impl_.integer(key, fallback);
}
double Settings::real(std::string_view key, std::optional<double> fallback) const { return impl_.real(key, fallback); }
bool Settings::flag(std::string_view key, std::optional<bool> fallback) const { return impl_.flag(key, fallback); }
std::string Settings::text(std::string_view key, std::optional<std::string> fallback) const {
  return impl_.text(key, std::move(fallback));
}
std::vector<double> Settings::reals(std::string_view key, std::optional<std::vector<double>> fallback) const {
  return impl_.reals(key, std::move(fallback));
}
std::vector<std::string> Settings::texts(std::string_view key, std::optional<std::vector<std::string>> fallback) const {
  return impl_.texts(key, std::move(fallback));
}
std::string Settings::input_path(std::string_view key) const { return impl_.input_path(key); }
void Settings::fail(std::string_view key, std::string_view message) const { impl_.fail(key, message); }

}  // namespace taskfarm
