#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "taskfarm/core/error.hpp"
#include "taskfarm/job/param_expression.hpp"
#include "taskfarm/job/param_space.hpp"

namespace taskfarm::job {
namespace {

// x = 0.5 and y = 2 at task 0; `name` is text, for the error cases.
ParamSpace small_space() {
  return ParamSpace({Axis::list("x", std::vector<double>{0.5}), Axis::list("y", std::vector<std::int64_t>{2}),
                     Axis::list("name", std::vector<std::string>{"a"})},
                    Combine::product);
}

double value_of(std::string_view text) {
  const ParamSpace space = small_space();
  return ParamExpression::parse(text, space).evaluate(0);
}

// The full text of the InputError that parse() throws.
void expect_input_error(std::string_view text, const std::string& message) {
  SCOPED_TRACE(text);
  const ParamSpace space = small_space();
  EXPECT_THROW(
      {
        try {
          (void)ParamExpression::parse(text, space);
        } catch (const InputError& e) {
          EXPECT_EQ(std::string(e.what()), message);
          throw;
        }
      },
      InputError);
}

TEST(ParamExpressionTest, numbers_in_every_decimal_spelling) {
  EXPECT_EQ(value_of("42"), 42.0);
  EXPECT_EQ(value_of("007"), 7.0);
  EXPECT_EQ(value_of("2.5"), 2.5);
  EXPECT_EQ(value_of(".5"), 0.5);
  EXPECT_EQ(value_of("2."), 2.0);
  EXPECT_EQ(value_of("1e-3"), 0.001);
  EXPECT_EQ(value_of("1.5E+2"), 150.0);
  EXPECT_EQ(value_of("25e1"), 250.0);
}

TEST(ParamExpressionTest, precedence_and_associativity) {
  EXPECT_EQ(value_of("1 + 2 * 3"), 7.0);        // not (1+2)*3 = 9
  EXPECT_EQ(value_of("(1 + 2) * 3"), 9.0);
  EXPECT_EQ(value_of("7 - 2 * 3 + 8 / 4"), 3.0);  // 7 - 6 + 2
  EXPECT_EQ(value_of("10 - 4 - 3"), 3.0);       // (10-4)-3, not 10-(4-3) = 9
  EXPECT_EQ(value_of("1 - 2 + 3"), 2.0);        // (1-2)+3, not 1-(2+3) = -4
  EXPECT_EQ(value_of("64 / 4 / 2"), 8.0);       // (64/4)/2, not 64/(4/2) = 32
  EXPECT_EQ(value_of("2 * 3 ^ 2"), 18.0);       // 2*9, not 6^2 = 36
  EXPECT_EQ(value_of("2 ^ 3 ^ 2"), 512.0);      // 2^9, not 8^2 = 64
  EXPECT_EQ(value_of("(2 ^ 3) ^ 2"), 64.0);
  EXPECT_EQ(value_of("-2 ^ 2"), -4.0);          // -(2^2), as Python's -2**2
  EXPECT_EQ(value_of("(-2) ^ 2"), 4.0);
  EXPECT_EQ(value_of("2 ^ -1"), 0.5);           // a signed exponent
  EXPECT_EQ(value_of("2 ^ -2 ^ 2"), 0.0625);    // 2^(-(2^2)) = 2^-4, as Python's 2**-2**2
  EXPECT_EQ(value_of("-2 ^ -2"), -0.25);        // -(2^-2)
  EXPECT_EQ(value_of("2 * -3"), -6.0);
  EXPECT_EQ(value_of("- -3"), 3.0);
  EXPECT_EQ(value_of("+4 - +1"), 3.0);
  EXPECT_EQ(value_of("-(1 - 4) * 2"), 6.0);
  EXPECT_EQ(value_of("1 / 4 * 2"), 0.5);        // (1/4)*2, not 1/(4*2) = 0.125
}

TEST(ParamExpressionTest, whitespace_anywhere_between_tokens) {
  EXPECT_EQ(value_of(" \t( 1+2 )\n*\r3 "), 9.0);
  EXPECT_EQ(value_of("max ( 1 , 2 )"), 2.0);
  EXPECT_EQ(value_of("x*y"), 1.0);  // 0.5 * 2
}

TEST(ParamExpressionTest, every_function) {
  EXPECT_EQ(value_of("abs(-2.5)"), 2.5);
  EXPECT_EQ(value_of("abs(3)"), 3.0);
  EXPECT_EQ(value_of("sqrt(16)"), 4.0);
  EXPECT_EQ(value_of("exp(0)"), 1.0);
  EXPECT_DOUBLE_EQ(value_of("exp(1)"), 2.718281828459045);
  EXPECT_EQ(value_of("log(1)"), 0.0);
  EXPECT_DOUBLE_EQ(value_of("log(exp(2))"), 2.0);
  EXPECT_EQ(value_of("log2(8)"), 3.0);
  EXPECT_EQ(value_of("log2(0.25)"), -2.0);
  EXPECT_DOUBLE_EQ(value_of("log10(1000)"), 3.0);
  EXPECT_EQ(value_of("min(3, -1)"), -1.0);
  EXPECT_EQ(value_of("max(3, -1)"), 3.0);
  EXPECT_EQ(value_of("pow(2, 10)"), 1024.0);
  EXPECT_EQ(value_of("pow(4, 0.5)"), 2.0);
  EXPECT_EQ(value_of("max(min(1, 2), abs(-3))"), 3.0);
  EXPECT_EQ(value_of("sqrt(abs(-9)) + 1"), 4.0);
  EXPECT_EQ(value_of("2 * min(x, y) ^ 2"), 0.5);  // 2 * 0.5^2
}

TEST(ParamExpressionTest, integer_parameters) {
  const ParamSpace space({Axis::integer_range("n", 10, 40, 10)}, Combine::product);  // 10, 20, 30
  const ParamExpression e = ParamExpression::parse("n * 2 + 1", space);
  EXPECT_EQ(e.text(), "n * 2 + 1");
  EXPECT_EQ(e.evaluate(0), 21.0);
  EXPECT_EQ(e.evaluate(1), 41.0);
  EXPECT_EQ(e.evaluate(2), 61.0);
}

TEST(ParamExpressionTest, real_linspace_parameters) {
  const ParamSpace space({Axis::linspace("x", 0.0, 1.0, 5)}, Combine::product);  // 0, .25, .5, .75, 1
  const ParamExpression scaled = ParamExpression::parse("x * 4", space);
  for (TaskIndex t = 0; t < 5; ++t) {
    EXPECT_EQ(scaled.evaluate(t), static_cast<double>(t));
  }
  const ParamExpression squared = ParamExpression::parse("x^2 - x", space);
  EXPECT_EQ(squared.evaluate(1), -0.1875);  // 0.0625 - 0.25
  EXPECT_EQ(squared.evaluate(2), -0.25);    // 0.25 - 0.5
  EXPECT_EQ(squared.evaluate(4), 0.0);
}

TEST(ParamExpressionTest, product_space_parameters) {
  // 3 * 3 * 2 = 18 tasks, first axis slowest: task t has n = t/6 + 1, x = ((t/2) % 3) / 2, name = t % 2.
  const ParamSpace space({Axis::integer_range("max_iter", 1, 4), Axis::linspace("x", 0.0, 1.0, 3),
                          Axis::list("name", std::vector<std::string>{"a", "b"})},
                         Combine::product);
  const ParamExpression e = ParamExpression::parse("max_iter * 10 + x", space);
  EXPECT_EQ(e.evaluate(0), 10.0);   // n 1, x 0
  EXPECT_EQ(e.evaluate(3), 10.5);   // n 1, x 0.5
  EXPECT_EQ(e.evaluate(11), 21.0);  // n 2, x 1
  EXPECT_EQ(e.evaluate(12), 30.0);  // n 3, x 0
  EXPECT_EQ(e.evaluate(17), 31.0);  // n 3, x 1
  const ParamExpression cost = ParamExpression::parse("max_iter * (x*x + 1)", space);
  EXPECT_EQ(cost.evaluate(2), 1.25);  // 1 * (0.25 + 1)
  EXPECT_EQ(cost.evaluate(16), 6.0);  // 3 * (1 + 1)
}

TEST(ParamExpressionTest, zip_space_parameters) {
  const ParamSpace space({Axis::list("a", std::vector<std::int64_t>{5, 6, 7}), Axis::linspace("y", 1.0, 3.0, 3)},
                         Combine::zip);
  const ParamExpression e = ParamExpression::parse("a * y - 1", space);
  EXPECT_EQ(e.evaluate(0), 4.0);   // 5 * 1 - 1
  EXPECT_EQ(e.evaluate(1), 11.0);  // 6 * 2 - 1
  EXPECT_EQ(e.evaluate(2), 20.0);  // 7 * 3 - 1
}

TEST(ParamExpressionTest, a_parameter_may_share_a_function_name) {
  const ParamSpace space({Axis::list("exp", std::vector<std::int64_t>{0, 2})}, Combine::product);
  const ParamExpression e = ParamExpression::parse("exp(exp) + exp", space);  // '(' makes a call
  EXPECT_EQ(e.evaluate(0), 1.0);  // e^0 + 0
  EXPECT_DOUBLE_EQ(e.evaluate(1), 9.38905609893065);  // e^2 + 2
}

TEST(ParamExpressionTest, nesting_up_to_the_limit) {
  const std::size_t limit = ParamExpression::max_depth - 1;  // 63 parentheses: x at depth 64
  EXPECT_EQ(value_of(std::string(limit, '(') + "x" + std::string(limit, ')')), 0.5);
  // 31 levels of "1+2*(": 63 values on the stack; f(0) = 1, f(k) = 1 + 2 f(k-1) = 2^(k+1) - 1.
  std::string deep;
  for (int i = 0; i < 31; ++i) {
    deep += "1+2*(";
  }
  deep += "1" + std::string(31, ')');
  EXPECT_EQ(value_of(deep), 4294967295.0);
}

TEST(ParamExpressionTest, errors_name_the_problem_and_column) {
  expect_input_error("x +* y", R"~(order expression "x +* y": column 4: expected a number, a parameter or '(')~");
  expect_input_error("x +", R"~(order expression "x +": column 4: expected a number, a parameter or '(')~");
  expect_input_error("z*2", R"~(order expression "z*2": column 1: no parameter named 'z' (parameters: x, y, name))~");
  expect_input_error("1 + name",
                     R"~(order expression "1 + name": column 5: parameter 'name' holds text; only numeric parameters )~"
                     R"~(can be used)~");
  expect_input_error("", R"~(order expression "": column 1: the expression is empty)~");
  expect_input_error("  \t", "order expression \"  \t\": column 1: the expression is empty");
  expect_input_error("x y", R"~(order expression "x y": column 3: expected an operator or the end, found 'y')~");
  expect_input_error("2x", R"~(order expression "2x": column 2: expected an operator or the end, found 'x')~");
  expect_input_error("(x)(y)", R"~(order expression "(x)(y)": column 4: expected an operator or the end, found '(')~");
  expect_input_error("x)", R"~(order expression "x)": column 2: unmatched ')')~");
  expect_input_error("(x + y", R"~(order expression "(x + y": column 7: expected ')' to close the '(' at column 1)~");
  expect_input_error("max(x y)",
                     R"~(order expression "max(x y)": column 7: expected ')' to close the '(' at column 4)~");
  expect_input_error("foo(x)", R"~(order expression "foo(x)": column 1: unknown function 'foo' )~"
                               R"~((functions: abs, sqrt, exp, log, log2, log10, min, max, pow))~");
  expect_input_error("min(x)", R"~(order expression "min(x)": column 1: min() takes 2 arguments, got 1)~");
  expect_input_error("sqrt(x, y)", R"~(order expression "sqrt(x, y)": column 1: sqrt() takes 1 argument, got 2)~");
  expect_input_error("1 + abs()", R"~(order expression "1 + abs()": column 5: abs() takes 1 argument, got 0)~");
  expect_input_error("x # y", R"~(order expression "x # y": column 3: unexpected character '#')~");
  expect_input_error("x * 2e", R"~(order expression "x * 2e": column 5: malformed number '2e')~");
  expect_input_error("1e+", R"~(order expression "1e+": column 1: malformed number '1e+')~");
  expect_input_error(".", R"~(order expression ".": column 1: malformed number '.')~");
  expect_input_error("1e999", R"~(order expression "1e999": column 1: number '1e999' is out of range)~");
}

TEST(ParamExpressionTest, too_deep_nesting_is_an_error) {
  // 64 parentheses put x at depth 65 (column 65).
  const std::string parens = std::string(64, '(') + "x" + std::string(64, ')');
  expect_input_error(parens, "order expression \"" + parens +
                                 "\": column 65: the expression nests too deeply (more than 64 levels)");
  // 32 levels of "1+2*(" need 65 stack slots for the innermost 1, at column 5 * 32 + 1.
  std::string deep;
  for (int i = 0; i < 32; ++i) {
    deep += "1+2*(";
  }
  deep += "1" + std::string(32, ')');
  expect_input_error(deep, "order expression \"" + deep +
                               "\": column 161: the expression nests too deeply (more than 64 levels)");
}

}  // namespace
}  // namespace taskfarm::job
