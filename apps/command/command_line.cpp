#include "command_line.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace taskfarm::apps::command_line {

Template::Template(std::string_view text) {
  std::string literal;
  Quoting quoting = Quoting::none;  // the shell's quoting state of the text read so far
  bool escaped = false;             // the previous character was a backslash that quotes this one
  auto shell_reads = [&](char c) {
    if (escaped) {
      escaped = false;
    } else if (c == '\\' && quoting != Quoting::single_quotes) {
      escaped = true;
    } else if (c == '\'' && quoting != Quoting::double_quotes) {
      quoting = quoting == Quoting::none ? Quoting::single_quotes : Quoting::none;
    } else if (c == '"' && quoting != Quoting::single_quotes) {
      quoting = quoting == Quoting::none ? Quoting::double_quotes : Quoting::none;
    }
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '}') {
      if (i + 1 < text.size() && text[i + 1] == '}') {
        literal += '}';
        shell_reads('}');
        ++i;
        continue;
      }
      throw std::invalid_argument(fmt::format("a '}}' without its '{{' at character {} (write }}}} for a brace)", i + 1));
    }
    if (c != '{') {
      literal += c;
      shell_reads(c);
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      shell_reads('{');
      ++i;
      continue;
    }
    const std::size_t close = text.find('}', i);
    if (close == std::string_view::npos) {
      throw std::invalid_argument(fmt::format("a '{{' not closed at character {} (write {{{{ for a brace)", i + 1));
    }
    const std::string_view inside = text.substr(i + 1, close - i - 1);
    const std::size_t colon = inside.find(':');
    Placeholder p{std::string(inside.substr(0, colon)),
                  colon == std::string_view::npos ? std::string() : std::string(inside.substr(colon + 1)), quoting,
                  escaped};
    escaped = false;
    if (p.name.empty()) {
      throw std::invalid_argument(fmt::format("an empty placeholder {{}} at character {}: name a parameter, {{x}}", i + 1));
    }
    literals_.push_back(std::move(literal));
    literal.clear();
    placeholders_.push_back(std::move(p));
    i = close;
  }
  literals_.push_back(std::move(literal));
}

std::string Template::render(const std::function<Value(const Placeholder&)>& value,
                             const std::function<std::string(std::string_view)>& quote) const {
  std::string out = literals_[0];
  for (std::size_t k = 0; k < placeholders_.size(); ++k) {
    const std::string v = format_value(value(placeholders_[k]), placeholders_[k].spec);
    out += quote ? quote(v) : v;
    out += literals_[k + 1];
  }
  return out;
}

void Template::check_shell() const {
  for (const Placeholder& p : placeholders_) {
    if (p.quoting == Quoting::single_quotes) {
      throw std::invalid_argument(fmt::format("{{{}}} is inside single quotes, where the shell expands nothing: take "
                                              "the quotes away (each value reaches the shell as one quoted word)",
                                              p.name));
    }
    if (p.after_backslash) {
      throw std::invalid_argument(fmt::format("a backslash right before {{{}}}: it would quote the shell's own syntax, "
                                              "not the value; take it away",
                                              p.name));
    }
  }
}

std::string Template::shell_line(const std::function<Value(const Placeholder&)>& value,
                                 std::vector<std::string>& args) const {
  check_shell();
  std::string out = literals_[0];
  for (std::size_t k = 0; k < placeholders_.size(); ++k) {
    const Placeholder& p = placeholders_[k];
    args.push_back(format_value(value(p), p.spec));
    const std::string ref = fmt::format("${{{}}}", args.size());
    out += p.quoting == Quoting::none ? "\"" + ref + "\"" : ref;  // inside "...", ${1} is not split either
    out += literals_[k + 1];
  }
  return out;
}

std::string format_value(const Value& value, std::string_view spec) {
  try {
    return std::visit(
        [&](const auto& v) -> std::string {
          if (spec.empty()) {
            return fmt::format("{}", v);
          }
          return fmt::format(fmt::runtime(fmt::format("{{:{}}}", spec)), v);
        },
        value);
  } catch (const fmt::format_error& e) {
    const char* kind = std::holds_alternative<std::string>(value) ? "text" : std::holds_alternative<double>(value)
                                                                                 ? "a real"
                                                                                 : "an integer";
    throw std::invalid_argument(fmt::format("format spec \":{}\" does not fit {}: {}", spec, kind, e.what()));
  }
}

std::vector<std::string> split_words(std::string_view line, std::vector<bool>* quoted) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  bool any_quote = false;
  auto end_word = [&] {
    words.push_back(std::move(word));
    word.clear();
    if (quoted != nullptr) {
      quoted->push_back(any_quote);
    }
    any_quote = false;
    in_word = false;
  };
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) {
        end_word();
      }
      continue;
    }
    in_word = true;
    any_quote = any_quote || c == '\'' || c == '"' || c == '\\';
    if (c == '\'') {
      const std::size_t close = line.find('\'', i + 1);
      if (close == std::string_view::npos) {
        throw std::invalid_argument(fmt::format("a single quote not closed (character {})", i + 1));
      }
      word.append(line.substr(i + 1, close - i - 1));
      i = close;
    } else if (c == '"') {
      std::size_t j = i + 1;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size() &&
            (line[j + 1] == '$' || line[j + 1] == '`' || line[j + 1] == '"' || line[j + 1] == '\\' || line[j + 1] == '\n')) {
          if (line[j + 1] != '\n') {
            word += line[j + 1];
          }
          ++j;
        } else {
          word += line[j];
        }
      }
      if (j >= line.size()) {
        throw std::invalid_argument(fmt::format("a double quote not closed (character {})", i + 1));
      }
      i = j;
    } else if (c == '\\') {
      if (i + 1 >= line.size()) {
        throw std::invalid_argument("a backslash at the end of the line");
      }
      if (line[i + 1] != '\n') {
        word += line[i + 1];
      }
      ++i;
    } else {
      word += c;
    }
  }
  if (in_word) {
    end_word();
  }
  return words;
}

namespace {

bool plain(std::string_view text) {
  if (text.empty()) {
    return false;
  }
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == '/' || c == ',' || c == ':' || c == '=' || c == '+' || c == '@' ||
                    c == '%' || static_cast<unsigned char>(c) >= 0x80;
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string shell_quote(std::string_view text) {
  if (plain(text)) {
    return std::string(text);
  }
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string show_argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) {
      out += ' ';
    }
    bool control = false;
    for (const char c : a) {
      control = control || (static_cast<unsigned char>(c) < 0x20 || c == 0x7f);
    }
    if (!control) {
      out += shell_quote(a);
      continue;
    }
    out += "$'";  // bash's ANSI-C quoting: a line break shows as \n, not as a broken line
    for (const char c : a) {
      if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\'' || c == '\\') {
        out += '\\';
        out += c;
      } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
        out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
      } else {
        out += c;
      }
    }
    out += '\'';
  }
  return out;
}

}  // namespace taskfarm::apps::command_line
