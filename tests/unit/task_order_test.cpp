#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "taskfarm/core/error.hpp"
#include "taskfarm/job/job_spec.hpp"
#include "taskfarm/job/task_order.hpp"

namespace taskfarm::job {
namespace {

std::string thrown(const std::string& order_text) {
  try {
    (void)parse_job("[job]\napp = \"synthetic\"\n[schedule]\norder = \"" + order_text + "\"\n", "j.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TaskOrder sorted_by(const std::string& order_text, const ParamSpace& params) {
  return TaskOrder::build(parse_order(order_text, "j.toml: [schedule] order"), params);
}

std::vector<TaskIndex> all_tasks(const TaskOrder& order) {
  std::vector<TaskIndex> out;
  for (TaskIndex p = 0; p < order.size(); ++p) {
    out.push_back(order.task(Position{p}));
  }
  return out;
}

TEST(OrderSpecTest, parses_every_form_and_writes_it_back) {
  EXPECT_EQ(parse_job("[job]\napp = \"x\"\n", "j.toml").schedule.order.kind, OrderSpec::Kind::index);
  const OrderSpec cost = parse_order("cost:maxiter * 2", "w");
  EXPECT_EQ(cost.kind, OrderSpec::Kind::descending);
  EXPECT_EQ(cost.expression, "maxiter * 2");
  EXPECT_EQ(cost.text(), "cost:maxiter * 2");
  EXPECT_EQ(parse_order("by:x", "w").kind, OrderSpec::Kind::ascending);
  EXPECT_EQ(parse_order("reverse", "w").text(), "reverse");
  EXPECT_EQ(parse_order("index", "w").text(), "index");
}

TEST(OrderSpecTest, a_bad_order_names_the_file_line_and_the_forms) {
  EXPECT_EQ(thrown("biggest"),
            "j.toml:4: [schedule] order: expected \"index\", \"reverse\", \"by:<expression>\" (smallest value first) "
            "or \"cost:<expression>\" (largest value first), got \"biggest\"");
}

TEST(OrderSpecTest, check_order_prefixes_expression_errors_with_where) {
  const ParamSpace params({Axis::integer_range("n", 0, 4)}, Combine::product);
  EXPECT_NO_THROW(check_order(parse_order("cost:n*n", "j.toml:7: [schedule] order"), params));
  try {
    check_order(parse_order("cost:m", "j.toml:7: [schedule] order"), params);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("j.toml:7: [schedule] order: ", 0), 0U) << e.what();
    EXPECT_NE(std::string(e.what()).find("'m'"), std::string::npos) << e.what();
  }
}

TEST(TaskOrderTest, identity_and_reverse_are_one_run) {
  const TaskOrder id(10);
  EXPECT_TRUE(id.is_identity());
  EXPECT_EQ(id.task(Position{7}), 7U);
  std::vector<TaskOrder::Run> runs;
  id.runs({2, 9}, runs);
  ASSERT_EQ(runs.size(), 1U);
  EXPECT_EQ(runs[0].first_task, 2U);
  EXPECT_EQ(runs[0].length, 7U);
  EXPECT_FALSE(runs[0].descending);

  const ParamSpace params({Axis::integer_range("i", 0, 10)}, Combine::product);
  const TaskOrder rev = sorted_by("reverse", params);
  EXPECT_FALSE(rev.is_identity());
  EXPECT_EQ(all_tasks(rev), (std::vector<TaskIndex>{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  rev.runs({2, 9}, runs);  // positions 2..8 are tasks 7 down to 1
  ASSERT_EQ(runs.size(), 1U);
  EXPECT_TRUE(runs[0].descending);
  EXPECT_EQ(runs[0].first_task, 7U);
  EXPECT_EQ(runs[0].tasks(), (TaskRange{1, 8}));
}

TEST(TaskOrderTest, sorting_is_stable_and_cost_puts_the_largest_first) {
  const ParamSpace params({Axis::list("x", std::vector<std::int64_t>{3, 1, 2, 1, 3})}, Combine::product);
  // x = 3 1 2 1 3: ascending keeps the tied 1s (tasks 1, 3) and 3s (tasks 0, 4) in index order.
  EXPECT_EQ(all_tasks(sorted_by("by:x", params)), (std::vector<TaskIndex>{1, 3, 2, 0, 4}));
  EXPECT_EQ(all_tasks(sorted_by("cost:x", params)), (std::vector<TaskIndex>{0, 4, 2, 1, 3}));
  EXPECT_EQ(all_tasks(sorted_by("by:-x", params)), (std::vector<TaskIndex>{0, 4, 2, 1, 3}));
}

TEST(TaskOrderTest, nan_values_go_last_in_index_order) {
  const ParamSpace params({Axis::list("x", std::vector<double>{-1.0, 4.0, -2.0, 1.0})}, Combine::product);
  // sqrt: NaN, 2, NaN, 1. Largest first, then the NaNs in index order.
  EXPECT_EQ(all_tasks(sorted_by("cost:sqrt(x)", params)), (std::vector<TaskIndex>{1, 3, 0, 2}));
  EXPECT_EQ(all_tasks(sorted_by("by:sqrt(x)", params)), (std::vector<TaskIndex>{3, 1, 0, 2}));
}

TEST(TaskOrderTest, sorting_by_an_outer_axis_keeps_inner_rows_whole) {
  // a (slowest) x b: tasks 0-3 have a = 1, 4-7 a = 3, 8-11 a = 2. cost:a gives 4..7, 8..11, 0..3,
  // which are two ascending runs: 4..11 and 0..3.
  const ParamSpace params({Axis::list("a", std::vector<std::int64_t>{1, 3, 2}), Axis::integer_range("b", 0, 4)},
                          Combine::product);
  const TaskOrder order = sorted_by("cost:a", params);
  std::vector<TaskOrder::Run> runs;
  order.runs({0, 12}, runs);
  ASSERT_EQ(runs.size(), 2U);
  EXPECT_EQ(runs[0].position, 0U);
  EXPECT_EQ(runs[0].tasks(), (TaskRange{4, 12}));
  EXPECT_EQ(runs[1].position, 8U);
  EXPECT_EQ(runs[1].tasks(), (TaskRange{0, 4}));
  order.runs({6, 10}, runs);  // tasks 10, 11, 0, 1
  ASSERT_EQ(runs.size(), 2U);
  EXPECT_EQ(runs[0].tasks(), (TaskRange{10, 12}));
  EXPECT_EQ(runs[1].tasks(), (TaskRange{0, 2}));
  // by:-b: b = 3 first: tasks 3, 7, 11, 2, 6, 10, 1, ...: no two neighbours adjacent, twelve runs.
  const TaskOrder inner = sorted_by("by:-b", params);
  inner.runs({0, 12}, runs);
  EXPECT_EQ(runs.size(), 12U);
}

TEST(TaskOrderTest, descending_runs_inside_a_sorted_order) {
  // cost:i over 0..5 is 5, 4, ..., 0: one descending run.
  const ParamSpace params({Axis::integer_range("i", 0, 6)}, Combine::product);
  const TaskOrder order = sorted_by("cost:i", params);
  std::vector<TaskOrder::Run> runs;
  order.runs({1, 5}, runs);  // tasks 4, 3, 2, 1
  ASSERT_EQ(runs.size(), 1U);
  EXPECT_TRUE(runs[0].descending);
  EXPECT_EQ(runs[0].tasks(), (TaskRange{1, 5}));
}

TEST(TaskOrderTest, pending_tasks_and_attempts_map_to_positions) {
  const ParamSpace params({Axis::list("x", std::vector<std::int64_t>{5, 0, 4, 1, 3, 2})}, Combine::product);
  const TaskOrder order = sorted_by("cost:x", params);  // positions run tasks 0, 2, 4, 5, 3, 1
  ASSERT_EQ(all_tasks(order), (std::vector<TaskIndex>{0, 2, 4, 5, 3, 1}));
  // Pending tasks {1, 2, 3} sit at positions 5, 1, 4.
  EXPECT_EQ(order.positions_of({{1, 4}}), (std::vector<TaskRange>{{1, 2}, {4, 6}}));
  const std::map<TaskIndex, std::uint32_t> attempts{{2, 1}, {1, 2}};
  EXPECT_EQ(order.by_position(attempts), (std::map<TaskIndex, std::uint32_t>{{1, 1}, {5, 2}}));

  const TaskOrder rev = sorted_by("reverse", params);  // position p runs task 5 - p
  EXPECT_EQ(rev.positions_of({{0, 2}, {4, 5}}), (std::vector<TaskRange>{{1, 2}, {4, 6}}));
  EXPECT_EQ(rev.by_position(attempts), (std::map<TaskIndex, std::uint32_t>{{3, 1}, {4, 2}}));
  const TaskOrder id(6);
  EXPECT_EQ(id.positions_of({{0, 2}, {4, 5}}), (std::vector<TaskRange>{{0, 2}, {4, 5}}));
}

}  // namespace
}  // namespace taskfarm::job
