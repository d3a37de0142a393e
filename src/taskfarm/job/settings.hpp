#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace taskfarm {
class Settings;  // the public view (taskfarm/taskfarm.hpp)
}  // namespace taskfarm

namespace taskfarm::job {

/// @brief One scalar value of a job file: integer, real, boolean or string.
using Scalar = std::variant<std::int64_t, double, bool, std::string>;

/// @brief A setting as written in the job file: a scalar or an array of scalars, with its line.
struct SettingValue {
  std::variant<Scalar, std::vector<Scalar>> value;
  int line = 0;
};

/// @brief Typed, checked access to one table of a job file (e.g. `[app]`).
///
/// Every accessor records the key as used, so that after a kernel has read what it understands
/// `reject_unknown()` can name any key nobody asked for (almost always a typo).
class Settings {
 public:
  Settings() = default;
  Settings(std::string file, std::string section, std::map<std::string, SettingValue, std::less<>> values);

  /// @brief True when the key is present; the key counts as known for reject_unknown().
  [[nodiscard]] bool has(std::string_view key) const;

  /// @brief Integer value; missing key → `fallback` or an InputError when there is none.
  [[nodiscard]] std::int64_t integer(std::string_view key, std::optional<std::int64_t> fallback = {}) const;
  /// @brief Real value (integers are accepted).
  [[nodiscard]] double real(std::string_view key, std::optional<double> fallback = {}) const;
  /// @brief Boolean value.
  [[nodiscard]] bool flag(std::string_view key, std::optional<bool> fallback = {}) const;
  /// @brief String value.
  [[nodiscard]] std::string text(std::string_view key, std::optional<std::string> fallback = {}) const;
  /// @brief A path of a file the app reads (string value): recorded in input_paths(), so that no
  /// job can write its output over it.
  [[nodiscard]] std::string input_path(std::string_view key) const;
  /// @brief Every path input_path() returned, in order.
  [[nodiscard]] const std::vector<std::string>& input_paths() const noexcept { return inputs_; }
  /// @brief True when both hold the same keys with the same values (lines and file names aside).
  [[nodiscard]] bool same_values(const Settings& other) const;
  /// @brief Array of reals (integers accepted).
  [[nodiscard]] std::vector<double> reals(std::string_view key, std::optional<std::vector<double>> fallback = {}) const;
  /// @brief Array of strings.
  [[nodiscard]] std::vector<std::string> texts(std::string_view key,
                                               std::optional<std::vector<std::string>> fallback = {}) const;

  /// @brief Throws an InputError "file:line: [section] key: message".
  [[noreturn]] void fail(std::string_view key, std::string_view message) const;
  /// @brief "file:line: [section] key" (no line when the key is absent): where fail() points.
  [[nodiscard]] std::string where(std::string_view key) const;

  /// @brief This table as a kernel sees it (taskfarm::Settings, the public API's view).
  [[nodiscard]] taskfarm::Settings view() const;

  /// @brief Throws an InputError naming the first key that no accessor read.
  void reject_unknown() const;

  [[nodiscard]] const std::string& file() const noexcept { return file_; }
  [[nodiscard]] const std::string& section() const noexcept { return section_; }

 private:
  const SettingValue* lookup(std::string_view key) const;
  /// The array at `key` (fail() when it is not one), or nullptr when it is missing and a fallback exists.
  const std::vector<Scalar>* array(std::string_view key, bool has_fallback, std::string_view what) const;

  std::string file_;
  std::string section_;
  std::map<std::string, SettingValue, std::less<>> values_;
  mutable std::set<std::string, std::less<>> asked_;  // every key an accessor asked for
  mutable std::vector<std::string> inputs_;          // every path input_path() returned
};

/// @brief Human-readable rendering of a scalar, for error messages.
std::string describe(const Scalar& value);

}  // namespace taskfarm::job
