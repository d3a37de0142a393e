#include <gtest/gtest.h>

#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include "taskfarm/core/error.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/io/task_write_buffer.hpp"

namespace taskfarm::io {
namespace {

class ResultsFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("taskfarm_io_" + std::to_string(getpid()) + "_" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ResultsFile make(TaskIndex n, const job::ParamSpace* params = nullptr) {
    ResultsFile::CreateOptions o;
    o.path = dir_ / "out.h5";
    o.n_tasks = n;
    o.results = {{"vec", ElementType::u32, {3}, "", "three numbers"}, {"x", ElementType::f64, {}, "m", "a length"}};
    o.params = params;
    o.attributes = {{"app", std::string("test")}, {"n_ranks", std::int64_t{4}}};
    return ResultsFile::create(o);
  }

  std::filesystem::path dir_;
};

TEST_F(ResultsFileTest, round_trips_columns_tables_and_attributes) {
  const job::ParamSpace params({job::Axis::integer_range("i", 100, 110)}, job::Combine::product);
  {
    ResultsFile f = make(10, &params);
    EXPECT_EQ(f.column_count(), 5U);  // vec, x, state, rank, seconds
    std::vector<std::uint32_t> vec{1, 2, 3, 4, 5, 6};
    f.write_tasks(0, {4, 6}, vec.data());
    const double x[] = {1.5};
    f.write_tasks(1, {9, 10}, x);
    f.append_chunks(std::vector<ChunkRow>{{0, 5, 1, 0.1, 0.2, 0.3}, {5, 10, 2, 0.4, 0.5, 0.6}});
    f.append_failures(std::vector<FailureRow>{{7, 1, 2, "node7", "division by zero"}});
    f.set_attribute("status", std::string("complete"));
  }
  const ResultsFile f = ResultsFile::open(dir_ / "out.h5");
  EXPECT_EQ(f.n_tasks(), 10U);
  EXPECT_EQ(f.column(0).name, "vec");
  EXPECT_EQ(f.column(0).shape, (std::vector<std::uint64_t>{3}));
  EXPECT_EQ(f.column(1).type, ElementType::f64);
  std::vector<std::uint32_t> vec(30);
  f.read_tasks(0, {0, 10}, vec.data());
  EXPECT_EQ(vec[12], 1U);
  EXPECT_EQ(vec[17], 6U);
  EXPECT_EQ(vec[0], 0U);
  std::vector<std::int32_t> rank(10);
  f.read_tasks(f.rank_column(), {0, 10}, rank.data());
  EXPECT_EQ(rank[0], -1);  // fill value: not computed yet
  const auto chunks = f.read_chunks();
  ASSERT_EQ(chunks.size(), 2U);
  EXPECT_EQ(chunks[1].rank, 2);
  EXPECT_EQ(chunks[1].finished, 0.6);
  const auto failures = f.read_failures();
  ASSERT_EQ(failures.size(), 1U);
  EXPECT_EQ(failures[0].host, "node7");
  EXPECT_EQ(failures[0].message, "division by zero");
  EXPECT_EQ(f.text_attribute("status"), "complete");
  EXPECT_EQ(f.text_attribute("app"), "test");
  EXPECT_EQ(std::get<std::int64_t>(*f.attribute("n_ranks")), 4);
  EXPECT_EQ(std::get<std::int64_t>(*f.attribute("taskfarm_format")), ResultsFile::kFormatVersion);
}

TEST_F(ResultsFileTest, refuses_to_replace_an_existing_file_unless_asked) {
  { ResultsFile f = make(3); }
  EXPECT_THROW(make(3), H5Error);
}

TEST_F(ResultsFileTest, opening_a_foreign_file_is_an_input_error) {
  const auto plain = dir_ / "plain.txt";
  { std::ofstream(plain) << "not hdf5"; }
  EXPECT_THROW((void)ResultsFile::open(plain), InputError);
  EXPECT_THROW((void)ResultsFile::open(dir_ / "missing.h5"), InputError);
  const auto other = dir_ / "other.h5";
  const hid_t id = H5Fcreate(other.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  H5Fclose(id);
  try {
    (void)ResultsFile::open(other);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("not a taskfarm output"), std::string::npos);
  }
}

TEST_F(ResultsFileTest, write_buffer_puts_every_task_in_place_whatever_the_order) {
  ResultsFile f = make(5000);
  const TaskIndex rows = f.chunk_rows();
  ASSERT_GT(rows, 1U);
  // Ranges of 1..40 tasks, shuffled: the file must end up with every task's values exactly.
  std::vector<TaskRange> ranges;
  std::mt19937 rng(7);
  for (TaskIndex b = 0; b < 5000;) {
    const TaskIndex e = std::min<TaskIndex>(5000, b + 1 + rng() % 40);
    ranges.push_back({b, e});
    b = e;
  }
  std::shuffle(ranges.begin(), ranges.end(), rng);
  {
    TaskWriteBuffer buffer(f, {0, 1, 2, 3, 4}, 4);
    for (const TaskRange r : ranges) {
      std::vector<std::uint32_t> vec(3 * r.size());
      std::vector<double> x(r.size());
      std::vector<std::uint8_t> state(r.size(), 1);
      std::vector<std::int32_t> rank(r.size(), 3);
      std::vector<double> secs(r.size());
      for (TaskIndex t = r.begin; t < r.end; ++t) {
        const auto k = t - r.begin;
        vec[3 * k] = static_cast<std::uint32_t>(t);
        vec[3 * k + 2] = static_cast<std::uint32_t>(2 * t);
        x[k] = 0.5 * static_cast<double>(t);
        secs[k] = 1.0 / static_cast<double>(t + 1);
      }
      const std::byte* cols[] = {reinterpret_cast<const std::byte*>(vec.data()),
                                 reinterpret_cast<const std::byte*>(x.data()), reinterpret_cast<const std::byte*>(state.data()),
                                 reinterpret_cast<const std::byte*>(rank.data()),
                                 reinterpret_cast<const std::byte*>(secs.data())};
      buffer.put(r, cols);
      EXPECT_LE(buffer.open_windows(), 4U);
    }
    buffer.flush();
  }
  std::vector<std::uint32_t> vec(3 * 5000);
  std::vector<double> x(5000);
  std::vector<std::uint8_t> state(5000);
  f.read_tasks(0, {0, 5000}, vec.data());
  f.read_tasks(1, {0, 5000}, x.data());
  f.read_tasks(f.state_column(), {0, 5000}, state.data());
  for (TaskIndex t = 0; t < 5000; ++t) {
    ASSERT_EQ(vec[3 * t], t);
    ASSERT_EQ(vec[3 * t + 2], 2 * t);
    ASSERT_EQ(x[t], 0.5 * static_cast<double>(t));
    ASSERT_EQ(state[t], 1);
  }
}

TEST_F(ResultsFileTest, write_buffer_writes_in_order_ranges_once_per_window) {
  ResultsFile f = make(4096);
  const TaskIndex rows = f.chunk_rows();
  TaskWriteBuffer buffer(f, {0, 1, 2, 3, 4});
  std::vector<std::uint32_t> vec(3);
  double x = 0;
  std::uint8_t state = 1;
  std::int32_t rank = 0;
  double secs = 0;
  const std::byte* cols[] = {reinterpret_cast<const std::byte*>(vec.data()), reinterpret_cast<const std::byte*>(&x),
                             reinterpret_cast<const std::byte*>(&state), reinterpret_cast<const std::byte*>(&rank),
                             reinterpret_cast<const std::byte*>(&secs)};
  for (TaskIndex t = 0; t < 4096; ++t) {
    buffer.put({t, t + 1}, cols);
  }
  buffer.flush();
  // One H5Dwrite per column per full window, not one per task.
  EXPECT_EQ(buffer.hdf5_writes(), 5 * ((4096 + rows - 1) / rows));
}

}  // namespace
}  // namespace taskfarm::io
