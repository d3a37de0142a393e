// The command app's pieces that need no process: word splitting, templates, quoting for people and
// for the shell; the task table and command list readers; text fields (UTF-8 repair, cutting).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "command/command_line.hpp"
#include "taskfarm/core/error.hpp"
#include "taskfarm/job/task_table.hpp"

namespace taskfarm {
namespace {

using apps::command_line::format_value;
using apps::command_line::Placeholder;
using apps::command_line::shell_quote;
using apps::command_line::show_argv;
using apps::command_line::split_words;
using apps::command_line::Template;
using apps::command_line::Value;
using Words = std::vector<std::string>;

// Expected words written out by hand from POSIX's token rules (XCU 2.2, 2.6.7 without expansions).
TEST(SplitWordsTest, splits_like_a_posix_shell_without_expanding_anything) {
  EXPECT_EQ(split_words("  prog  -x 1\t2 "), (Words{"prog", "-x", "1", "2"}));
  EXPECT_EQ(split_words("echo 'a  b' \"c  d\""), (Words{"echo", "a  b", "c  d"}));
  EXPECT_EQ(split_words("echo 'it'\\''s'"), (Words{"echo", "it's"}));
  EXPECT_EQ(split_words(R"(echo "say \"hi\" \$HOME \\ \x")"), (Words{"echo", R"(say "hi" $HOME \ \x)"}));
  EXPECT_EQ(split_words(R"(a\ b c\"d)"), (Words{"a b", "c\"d"}));
  EXPECT_EQ(split_words("echo '' \"\" x"), (Words{"echo", "", "", "x"}));
  EXPECT_EQ(split_words("echo $(rm -rf /) `x` ; | * ~"), (Words{"echo", "$(rm", "-rf", "/)", "`x`", ";", "|", "*", "~"}));
  EXPECT_EQ(split_words(""), Words{});
  std::vector<bool> quoted;
  EXPECT_EQ(split_words("a '>' > \\> \">\"x", &quoted), (Words{"a", ">", ">", ">", ">x"}));
  EXPECT_EQ(quoted, (std::vector<bool>{false, true, false, true, true}));
  EXPECT_THROW(split_words("echo 'open"), std::invalid_argument);
  EXPECT_THROW(split_words("echo \"open"), std::invalid_argument);
  EXPECT_THROW(split_words("echo \\"), std::invalid_argument);
}

TEST(TemplateTest, fills_placeholders_with_formatted_values_and_keeps_braces_escaped) {
  const Template t("run-{x:05.1f}-{name}-{{lit}}-{i:03d}");
  ASSERT_EQ(t.placeholders().size(), 3U);
  EXPECT_EQ(t.placeholders()[0].name, "x");
  EXPECT_EQ(t.placeholders()[0].spec, "05.1f");
  auto value = [](const Placeholder& p) -> Value {
    if (p.name == "x") {
      return 3.14159;
    }
    if (p.name == "i") {
      return std::int64_t{7};
    }
    return std::string("a b");
  };
  EXPECT_EQ(t.render(value), "run-003.1-a b-{lit}-007");
  // For a shell: the template's own text is shell syntax; values are positional parameters, quoted
  // where they stand outside quotes, bare inside double quotes (no splitting there), refused inside
  // single quotes (no expansion there) or after a backslash.
  std::vector<std::string> args;
  EXPECT_EQ(Template("echo {name} \"x={i:03d} $HOME\" | wc").shell_line(value, args),
            "echo \"${1}\" \"x=${2} $HOME\" | wc");
  EXPECT_EQ(args, (Words{"a b", "007"}));
  EXPECT_EQ(Template("echo 'it''s' \\\" {name}").shell_line(value, args), "echo 'it''s' \\\" \"${3}\"");
  EXPECT_THROW(Template("echo '{name}'").check_shell(), std::invalid_argument);
  EXPECT_THROW(Template("echo \"a\" 'b {name} c'").check_shell(), std::invalid_argument);
  EXPECT_THROW(Template("echo \\{name}").check_shell(), std::invalid_argument);
  EXPECT_NO_THROW(Template("echo \"'{name}'\"").check_shell());  // single quotes inside double ones are text
  EXPECT_THROW(Template("echo {x"), std::invalid_argument);
  EXPECT_THROW(Template("echo {}"), std::invalid_argument);
  EXPECT_THROW(Template("echo x}"), std::invalid_argument);
}

TEST(TemplateTest, values_print_as_the_job_wrote_them) {
  EXPECT_EQ(format_value(0.1, ""), "0.1");  // shortest round trip, not 0.100000
  EXPECT_EQ(format_value(1e-10, ""), "1e-10");
  EXPECT_EQ(format_value(std::int64_t{-42}, ""), "-42");
  EXPECT_EQ(format_value(std::string("x"), ">3"), "  x");
  EXPECT_THROW(format_value(std::int64_t{1}, ".3q"), std::invalid_argument);
  EXPECT_THROW(format_value(std::string("x"), "d"), std::invalid_argument);
}

TEST(QuotingTest, shows_every_argument_unambiguously) {
  EXPECT_EQ(shell_quote("plain-word_1.txt"), "plain-word_1.txt");
  EXPECT_EQ(shell_quote("a b"), "'a b'");
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("$(x)"), "'$(x)'");
  EXPECT_EQ(show_argv({"prog", "", "a b", "x\ny", "it's\t"}), "prog '' 'a b' $'x\\ny' $'it\\'s\\t'");
}

class TaskFileTest : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& name, const std::string& text) {
    const std::filesystem::path p = std::filesystem::temp_directory_path() / ("taskfarm-unit-" + name);
    std::ofstream(p, std::ios::binary) << text;
    paths_.push_back(p);
    return p;
  }
  void TearDown() override {
    for (const auto& p : paths_) {
      std::filesystem::remove(p);
    }
  }
  std::vector<std::filesystem::path> paths_;
};

TEST_F(TaskFileTest, a_csv_table_is_one_task_per_row_with_typed_columns) {
  const auto p = write("t.csv", "\xEF\xBB\xBFid,x,label,seed\r\n1,0.5,\"a, b\",007\r\n2,2,\"say \"\"hi\"\"\nthere\",010\r\n");
  const job::ParamSpace space = job::read_task_table(p);
  ASSERT_EQ(space.size(), 2U);
  ASSERT_EQ(space.axes().size(), 4U);
  EXPECT_EQ(space.axes()[0].kind(), job::Axis::Kind::integer);
  EXPECT_EQ(space.axes()[1].kind(), job::Axis::Kind::real);  // 0.5 and 2: reals
  EXPECT_EQ(space.axes()[2].kind(), job::Axis::Kind::text);
  EXPECT_EQ(space.axes()[3].kind(), job::Axis::Kind::text);  // 007 is not how 7 is written: text
  EXPECT_EQ(space.integer(0, 1), 2);
  EXPECT_EQ(space.real(1, 1), 2.0);
  EXPECT_EQ(space.text(2, 0), "a, b");
  EXPECT_EQ(space.text(2, 1), "say \"hi\"\nthere");
  EXPECT_EQ(space.text(3, 0), "007");
}

TEST_F(TaskFileTest, a_bad_table_names_file_and_line) {
  auto message = [&](const std::string& text) {
    try {
      (void)job::read_task_table(write("bad.csv", text));
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string path = (std::filesystem::temp_directory_path() / "taskfarm-unit-bad.csv").string();
  EXPECT_EQ(message("a,b\n1,2\n3\n"), path + ":3: 1 cells, but the header names 2 parameters");
  EXPECT_EQ(message("a,a\n1,2\n"), path + ":1: column \"a\" appears twice");
  EXPECT_EQ(message("a,\n1,2\n"), path + ":1: column \"\" cannot name a parameter: it is empty");
  EXPECT_EQ(message("a\n\"open\n"), path + ":2: a quoted field is not closed before the end of the file");
  EXPECT_EQ(message("a\n\"x\"y\n"), path + ":2: text after a quoted field's closing quote (write a quote inside quotes as \"\")");
  EXPECT_EQ(message("a,b\n"), path + ": a header row but no task rows");
  EXPECT_THROW((void)job::read_task_table("/nonexistent/t.csv"), InputError);
}

TEST_F(TaskFileTest, a_command_list_skips_blank_and_comment_lines_and_keeps_line_numbers) {
  const job::ParamSpace space = job::read_task_lines(write("c.txt", "# header\necho 1\n\n  \n\techo 2 # not a comment\r\n#x\n"));
  ASSERT_EQ(space.size(), 2U);
  EXPECT_EQ(space.axes()[0].name(), "line_number");
  EXPECT_EQ(space.integer(0, 0), 2);
  EXPECT_EQ(space.integer(0, 1), 5);
  EXPECT_EQ(space.text(1, 1), "\techo 2 # not a comment");
  EXPECT_THROW((void)job::read_task_lines(write("e.txt", "# only\n\n")), InputError);
}

}  // namespace
}  // namespace taskfarm
