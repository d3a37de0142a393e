#include <gtest/gtest.h>

#include "taskfarm/core/error.hpp"
#include "taskfarm/job/param_space.hpp"

namespace taskfarm::job {
namespace {

TEST(AxisTest, integer_range_follows_python_range) {
  const Axis up = Axis::integer_range("i", 2, 9, 3);  // 2, 5, 8
  ASSERT_EQ(up.size(), 3U);
  EXPECT_EQ(up.integer_at(0), 2);
  EXPECT_EQ(up.integer_at(2), 8);
  const Axis down = Axis::integer_range("i", 10, 0, -3);  // 10, 7, 4, 1
  ASSERT_EQ(down.size(), 4U);
  EXPECT_EQ(down.integer_at(3), 1);
  EXPECT_EQ(Axis::integer_range("i", 5, 5).size(), 0U);
  EXPECT_EQ(Axis::integer_range("i", 5, 0).size(), 0U);
}

TEST(AxisTest, linspace_matches_numpy_with_exact_endpoints) {
  const Axis a = Axis::linspace("x", 0.0, 1.0, 5);
  const double expected[] = {0.0, 0.25, 0.5, 0.75, 1.0};
  for (std::uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(a.real_at(i), expected[i]);
  }
  // numpy.linspace(0.1, 0.7, 7)[-1] is exactly 0.7 although 0.1 + 6 * 0.1 is not.
  EXPECT_EQ(Axis::linspace("x", 0.1, 0.7, 7).real_at(6), 0.7);
  EXPECT_EQ(Axis::linspace("x", 3.0, 9.0, 1).real_at(0), 3.0);
}

TEST(AxisTest, logspace_is_ten_to_the_linspace) {
  const Axis a = Axis::logspace("lr", -3.0, 0.0, 4);
  EXPECT_DOUBLE_EQ(a.real_at(0), 0.001);
  EXPECT_DOUBLE_EQ(a.real_at(1), 0.01);
  EXPECT_DOUBLE_EQ(a.real_at(2), 0.1);
  EXPECT_DOUBLE_EQ(a.real_at(3), 1.0);
}

TEST(ParamSpaceTest, product_is_c_order_first_axis_slowest) {
  const ParamSpace s({Axis::list("a", std::vector<std::int64_t>{1, 2, 3}), Axis::linspace("b", 0.0, 1.0, 3),
                      Axis::list("c", std::vector<std::string>{"x", "y"})},
                     Combine::product);
  ASSERT_EQ(s.size(), 18U);
  // task 11 = a index 1, b index 2, c index 1   (11 = 1*6 + 2*2 + 1)
  EXPECT_EQ(s.integer(0, 11), 2);
  EXPECT_EQ(s.real(1, 11), 1.0);
  EXPECT_EQ(s.text(2, 11), "y");
  EXPECT_EQ(s.task_of({1, 2, 1}), 11U);
  for (TaskIndex t = 0; t < s.size(); ++t) {
    EXPECT_EQ(s.task_of({s.position(0, t), s.position(1, t), s.position(2, t)}), t);
  }
}

TEST(ParamSpaceTest, zip_takes_the_ith_value_of_every_axis) {
  const ParamSpace s({Axis::list("a", std::vector<std::int64_t>{5, 6, 7}), Axis::linspace("b", 1.0, 3.0, 3)},
                     Combine::zip);
  ASSERT_EQ(s.size(), 3U);
  EXPECT_EQ(s.integer(0, 2), 7);
  EXPECT_EQ(s.real(1, 2), 3.0);
}

TEST(ParamSpaceTest, zip_rejects_unequal_lengths) {
  EXPECT_THROW(ParamSpace({Axis::integer_range("a", 0, 3), Axis::integer_range("b", 0, 4)}, Combine::zip),
               InputError);
}

TEST(ParamSpaceTest, product_beyond_2_to_63_is_rejected) {
  std::vector<Axis> axes;
  for (int i = 0; i < 3; ++i) {
    std::string name = "a";
    name += std::to_string(i);  // not "a" + to_string(i): GCC 12 -O3 warns falsely (-Wrestrict)
    axes.push_back(Axis::integer_range(name, 0, std::int64_t{1} << 22));
  }
  EXPECT_THROW(ParamSpace(std::move(axes), Combine::product), InputError);
}

TEST(ParamSpaceTest, huge_ranges_cost_no_memory) {
  const ParamSpace s({Axis::integer_range("seed", 0, std::int64_t{1} << 40)}, Combine::product);
  EXPECT_EQ(s.size(), TaskIndex{1} << 40);
  EXPECT_EQ(s.integer(0, (TaskIndex{1} << 40) - 1), (std::int64_t{1} << 40) - 1);
}

}  // namespace
}  // namespace taskfarm::job
