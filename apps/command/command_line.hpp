#pragma once

// The command app's templates: a command line split into words as a POSIX shell would split it
// (quotes and backslashes, no expansion of any kind), each word holding placeholders `{name}` or
// `{name:spec}` (fmt's format spec: {x:.3f}, {i:05d}) that a task's values fill in. A value always
// stays inside its word: nothing in a parameter can add an argument, let alone run a command.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace taskfarm::apps::command_line {

/// @brief One value a placeholder can take: an integer, a real or a text.
using Value = std::variant<std::int64_t, double, std::string>;

/// @brief Where a placeholder stands in shell syntax (for `shell = true`).
enum class Quoting { none, double_quotes, single_quotes };

/// @brief A placeholder inside a word: `{name}` or `{name:spec}`.
struct Placeholder {
  std::string name;
  std::string spec;  ///< fmt format spec without the colon ("" for the value as the job gives it)
  Quoting quoting = Quoting::none;  ///< read as shell text: inside no quotes, "..." or '...'
  bool after_backslash = false;     ///< read as shell text: right after a quoting backslash
};

/// @brief Text with placeholders: literal pieces and placeholders, in order.
class Template {
 public:
  /// @brief Parses `{name}`, `{name:spec}`, `{{` and `}}`; throws std::invalid_argument naming the
  /// problem (an unclosed brace, an empty name).
  explicit Template(std::string_view text);
  [[nodiscard]] const std::vector<Placeholder>& placeholders() const noexcept { return placeholders_; }
  [[nodiscard]] bool has_placeholders() const noexcept { return !placeholders_.empty(); }
  /// @brief The text with each placeholder replaced by `value(placeholder)`, formatted by its spec
  /// (std::invalid_argument for a spec that does not fit the value), then passed through `quote`
  /// when given (a shell command's values are quoted, the template's own text is not).
  [[nodiscard]] std::string render(const std::function<Value(const Placeholder&)>& value,
                                   const std::function<std::string(std::string_view)>& quote = {}) const;
  /// @brief For `sh -c LINE sh ARGS...`: the text with each placeholder replaced by a reference to a
  /// positional parameter ("${1}" outside quotes, ${1} inside double quotes) and its formatted value
  /// appended to `args`. A value never passes through the shell's parser: whatever it holds, it
  /// cannot end a quote or start a command. Throws std::invalid_argument for a placeholder inside
  /// single quotes (the shell expands nothing there).
  [[nodiscard]] std::string shell_line(const std::function<Value(const Placeholder&)>& value,
                                       std::vector<std::string>& args) const;
  /// @brief Throws what shell_line() would for where its placeholders stand (before any value).
  void check_shell() const;

 private:
  std::vector<std::string> literals_;  // literals_[k] comes before placeholders_[k]; one more at the end
  std::vector<Placeholder> placeholders_;
};

/// @brief Splits a command line into words like a POSIX shell, without expanding anything:
/// blanks separate words; '...' is literal; "..." keeps blanks, a backslash in it escapes only
/// $ ` " \ and a line break; outside quotes a backslash escapes the next character. Throws
/// std::invalid_argument for an unclosed quote or a trailing backslash. `quoted`, when given, gets
/// one flag per word: true when any of it was quoted or escaped (`'>'` is an argument, `>` is not).
std::vector<std::string> split_words(std::string_view line, std::vector<bool>* quoted = nullptr);

/// @brief `text` as one shell word, in single quotes ('it'\''s'); plain words stay as they are.
std::string shell_quote(std::string_view text);

/// @brief A value formatted as a placeholder shows it: integers in decimal, reals in the shortest
/// form that reads back the same (0.1, 1e-10), text as it is; `spec` is fmt's (".3f", "05d", ">8").
std::string format_value(const Value& value, std::string_view spec);

/// @brief An argv for people: each word shell-quoted when it needs to be, so that spaces, quotes,
/// empty words and line breaks are visible ('a b' '' $'x\ny').
std::string show_argv(const std::vector<std::string>& argv);

}  // namespace taskfarm::apps::command_line
