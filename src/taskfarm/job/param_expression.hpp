#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "taskfarm/core/task_range.hpp"
#include "taskfarm/job/param_space.hpp"

namespace taskfarm::job {

/// @brief An arithmetic expression over a job's numeric parameters, e.g. "maxiter * (x*x + y*y)": the key
/// of `[schedule] order = "by:<expr>"`, compiled once to a postfix program and evaluated per task.
///
/// Grammar, loosest binding first (^ binds tighter than unary minus, like Python's **: -2^2 = -4):
///
///     expr    := term (('+' | '-') term)*
///     term    := unary (('*' | '/') unary)*
///     unary   := ('-' | '+') unary | power
///     power   := primary ('^' unary)?                  right-associative: 2^3^2 = 2^9
///     primary := number | parameter | function '(' [expr (',' expr)*] ')' | '(' expr ')'
///
/// Numbers are decimal (1, 2.5, .5, 1e-3); functions are abs, sqrt, exp, log (natural), log2, log10 of
/// one argument and min, max, pow of two.
class ParamExpression {
 public:
  /// @brief Deepest nesting parse() accepts; also the size of the evaluation stack.
  static constexpr std::size_t max_depth = 64;

  /// @brief Parses `text` against `params`, which must outlive the expression. Throws InputError with one
  /// line naming the problem and its 1-based column, e.g.
  /// `order expression "x +* y": column 4: expected a number, a parameter or '('`.
  static ParamExpression parse(std::string_view text, const ParamSpace& params);

  /// @brief Value of the expression for task `task` (< params.size()); allocates nothing.
  [[nodiscard]] double evaluate(TaskIndex task) const;

  /// @brief The text the expression was parsed from.
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

 private:
  class Parser;

  /// @brief One step of the postfix program: push a value, or replace the top one or two values.
  struct Instruction {
    enum class Op : std::uint8_t {  // two-operand ops last: Parser::emit() counts stack height by order
      constant, parameter,                                      // push
      negate, abs, sqrt, exp, log, log2, log10,                 // one operand
      add, subtract, multiply, divide, power, minimum, maximum  // two operands
    };
    Op op = Op::constant;
    std::size_t axis = 0;  // Op::parameter
    double value = 0.0;    // Op::constant
  };

  ParamExpression(std::string text, const ParamSpace& params, std::vector<Instruction> program)
      : text_(std::move(text)), params_(&params), program_(std::move(program)) {}

  std::string text_;
  const ParamSpace* params_;
  std::vector<Instruction> program_;
};

}  // namespace taskfarm::job
