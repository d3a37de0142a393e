#include "taskfarm/job/param_expression.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <system_error>

#include <fmt/format.h>

#include "taskfarm/core/error.hpp"

namespace taskfarm::job {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

}  // namespace

/// @brief Recursive descent over the grammar in the header, emitting postfix as it goes.
class ParamExpression::Parser {
 public:
  using Op = Instruction::Op;

  Parser(std::string_view text, const ParamSpace& params) : text_(text), params_(params) { advance(); }

  std::vector<Instruction> run() {
    if (token_.kind == Kind::end) {
      fail(0, "the expression is empty");
    }
    expression();
    if (at(')')) {
      fail(token_.pos, "unmatched ')'");
    }
    if (token_.kind != Kind::end) {
      fail(token_.pos, fmt::format("expected an operator or the end, found '{}'", token_.text));
    }
    return std::move(program_);
  }

 private:
  enum class Kind { number, name, symbol, end };
  struct Token {
    Kind kind = Kind::end;
    std::size_t pos = 0;
    std::string_view text;
    double number = 0.0;
  };
  struct Function {
    std::string_view name;
    Op op;
    int arity;
  };
  static constexpr std::array<Function, 9> functions_{{{"abs", Op::abs, 1}, {"sqrt", Op::sqrt, 1},
                                                        {"exp", Op::exp, 1}, {"log", Op::log, 1},
                                                        {"log2", Op::log2, 1}, {"log10", Op::log10, 1},
                                                        {"min", Op::minimum, 2}, {"max", Op::maximum, 2},
                                                        {"pow", Op::power, 2}}};

  [[noreturn]] void fail(std::size_t pos, std::string_view what) const {
    throw InputError(fmt::format("order expression \"{}\": column {}: {}", text_, pos + 1, what));
  }

  [[noreturn]] void too_deep(std::size_t pos) const {
    fail(pos, fmt::format("the expression nests too deeply (more than {} levels)", max_depth));
  }

  [[nodiscard]] bool at(char symbol) const { return token_.kind == Kind::symbol && token_.text[0] == symbol; }

  std::size_t skip(bool (*matches)(char)) {
    const std::size_t from = cursor_;
    while (cursor_ < text_.size() && matches(text_[cursor_])) {
      ++cursor_;
    }
    return cursor_ - from;
  }
  bool accept(char c) {
    if (cursor_ == text_.size() || text_[cursor_] != c) {
      return false;
    }
    ++cursor_;
    return true;
  }

  void advance() {
    skip(is_space);
    const std::size_t begin = cursor_;
    token_ = Token{Kind::end, begin, {}, 0.0};
    if (begin == text_.size()) {
      return;
    }
    const char c = text_[begin];
    if (is_digit(c) || c == '.') {
      scan_number();
    } else if (is_name_start(c)) {
      skip(is_name_char);
      token_.kind = Kind::name;
    } else if (std::string_view("+-*/^(),").find(c) != std::string_view::npos) {
      ++cursor_;
      token_.kind = Kind::symbol;
    } else {
      fail(begin, fmt::format("unexpected character '{}'", c));
    }
    token_.text = text_.substr(begin, cursor_ - begin);
  }

  // digits [. digits] [(e|E) [+|-] digits] with at least one mantissa digit; from_chars does the rounding.
  void scan_number() {
    const std::size_t begin = cursor_;
    std::size_t mantissa = skip(is_digit);
    mantissa += accept('.') ? skip(is_digit) : 0;
    bool ok = mantissa > 0;
    if (ok && (accept('e') || accept('E'))) {
      (void)(accept('+') || accept('-'));
      ok = skip(is_digit) > 0;
    }
    const std::string_view spelled = text_.substr(begin, cursor_ - begin);
    if (!ok) {
      fail(begin, fmt::format("malformed number '{}'", spelled));
    }
    const auto [end, error] = std::from_chars(spelled.data(), spelled.data() + spelled.size(), token_.number);
    if (error != std::errc{} || end != spelled.data() + spelled.size()) {
      fail(begin, fmt::format("number '{}' is out of range", spelled));
    }
    token_.kind = Kind::number;
  }

  // Tracks the stack height so that evaluate() can use a fixed array of max_depth values.
  void emit(Instruction instruction, std::size_t pos) {
    if (instruction.op == Op::constant || instruction.op == Op::parameter) {
      ++height_;
    } else if (instruction.op >= Op::add) {
      --height_;
    }
    if (height_ > max_depth) {
      too_deep(pos);
    }
    program_.push_back(instruction);
  }
  void emit(Op op, std::size_t pos) { emit(Instruction{op, 0, 0.0}, pos); }

  void expression() {
    term();
    while (at('+') || at('-')) {
      const Token op = token_;
      advance();
      term();
      emit(op.text == "+" ? Op::add : Op::subtract, op.pos);
    }
  }

  void term() {
    unary();
    while (at('*') || at('/')) {
      const Token op = token_;
      advance();
      unary();
      emit(op.text == "*" ? Op::multiply : Op::divide, op.pos);
    }
  }

  // Every recursion passes through here, so bounding the depth here bounds the C++ stack too.
  void unary() {
    if (++depth_ > max_depth) {
      too_deep(token_.pos);
    }
    const Token op = token_;
    if (at('-') || at('+')) {
      advance();
      unary();
      if (op.text == "-") {
        emit(Op::negate, op.pos);
      }
    } else {
      primary();
      if (at('^')) {
        const Token caret = token_;
        advance();
        unary();  // not power(): the exponent may be signed (2^-1) and chains to the right (2^3^2)
        emit(Op::power, caret.pos);
      }
    }
    --depth_;
  }

  void primary() {
    const Token first = token_;
    if (first.kind == Kind::number) {
      advance();
      emit(Instruction{Op::constant, 0, first.number}, first.pos);
    } else if (at('(')) {
      advance();
      expression();
      close(first.pos);
    } else if (first.kind == Kind::name) {
      advance();
      if (at('(')) {
        call(first);
      } else {
        parameter(first);
      }
    } else {
      fail(first.pos, "expected a number, a parameter or '('");
    }
  }

  void close(std::size_t open) {
    if (!at(')')) {
      fail(token_.pos, fmt::format("expected ')' to close the '(' at column {}", open + 1));
    }
    advance();
  }

  void call(const Token& name) {
    const auto function =
        std::find_if(functions_.begin(), functions_.end(), [&](const Function& f) { return f.name == name.text; });
    if (function == functions_.end()) {
      fail(name.pos, fmt::format("unknown function '{}' (functions: abs, sqrt, exp, log, log2, log10, min, max, pow)",
                                 name.text));
    }
    const std::size_t open = token_.pos;
    advance();
    int arguments = 0;
    if (!at(')')) {
      expression();
      for (++arguments; at(','); ++arguments) {
        advance();
        expression();
      }
    }
    close(open);
    if (arguments != function->arity) {
      fail(name.pos, fmt::format("{}() takes {} argument{}, got {}", name.text, function->arity,
                                 function->arity == 1 ? "" : "s", arguments));
    }
    emit(function->op, name.pos);
  }

  void parameter(const Token& name) {
    const auto axis = params_.find(name.text);
    if (!axis) {
      std::string known;
      for (const Axis& a : params_.axes()) {
        known += (known.empty() ? "" : ", ") + a.name();
      }
      known = known.empty() ? "none" : known;
      fail(name.pos, fmt::format("no parameter named '{}' (parameters: {})", name.text, known));
    }
    if (params_.axes()[*axis].kind() == Axis::Kind::text) {
      fail(name.pos, fmt::format("parameter '{}' holds text; only numeric parameters can be used", name.text));
    }
    emit(Instruction{Op::parameter, *axis, 0.0}, name.pos);
  }

  std::string_view text_;
  const ParamSpace& params_;
  std::size_t cursor_ = 0;  // next character to scan
  Token token_;             // current token
  std::size_t depth_ = 0;
  std::size_t height_ = 0;
  std::vector<Instruction> program_;
};

ParamExpression ParamExpression::parse(std::string_view text, const ParamSpace& params) {
  return {std::string(text), params, Parser(text, params).run()};
}

double ParamExpression::evaluate(TaskIndex task) const {
  using Op = Instruction::Op;
  std::array<double, max_depth> stack;  // parse() rejects programs that would need more
  double* top = stack.data();           // one past the top value
  for (const Instruction& in : program_) {
    switch (in.op) {
      case Op::constant: *top++ = in.value; break;
      case Op::parameter: *top++ = params_->real(in.axis, task); break;
      case Op::negate: top[-1] = -top[-1]; break;
      case Op::abs: top[-1] = std::fabs(top[-1]); break;
      case Op::sqrt: top[-1] = std::sqrt(top[-1]); break;
      case Op::exp: top[-1] = std::exp(top[-1]); break;
      case Op::log: top[-1] = std::log(top[-1]); break;
      case Op::log2: top[-1] = std::log2(top[-1]); break;
      case Op::log10: top[-1] = std::log10(top[-1]); break;
      case Op::add: --top; top[-1] += top[0]; break;
      case Op::subtract: --top; top[-1] -= top[0]; break;
      case Op::multiply: --top; top[-1] *= top[0]; break;
      case Op::divide: --top; top[-1] /= top[0]; break;
      case Op::power: --top; top[-1] = std::pow(top[-1], top[0]); break;
      case Op::minimum: --top; top[-1] = std::fmin(top[-1], top[0]); break;
      case Op::maximum: --top; top[-1] = std::fmax(top[-1], top[0]); break;
    }
  }
  return stack[0];
}

}  // namespace taskfarm::job
