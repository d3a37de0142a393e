#include <gtest/gtest.h>

#include <hdf5.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include "taskfarm/core/error.hpp"
#include "taskfarm/io/carry_over.hpp"
#include "taskfarm/io/fletcher32.hpp"
#include "taskfarm/io/output_lock.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/io/task_write_buffer.hpp"
#include "taskfarm/io/task_state_log.hpp"
#include "taskfarm/job/input_file.hpp"

// HDF5's own checksum routine (src/H5checksum.c): exported by libhdf5, not declared in its
// public headers. The reference our fletcher32() must equal bit for bit.
extern "C" std::uint32_t H5_checksum_fletcher32(const void* data, std::size_t len);

namespace taskfarm::io {
namespace {

TEST(Fletcher32Test, equals_hdf5s_checksum_for_every_length_and_extreme_bytes) {
  std::mt19937_64 rng(11);
  std::vector<std::byte> data(3 * 360 * 2 + 9);
  for (const int fill : {0x00, 0xff, -1}) {  // all zero, all ones (the sums' largest values), random
    for (auto& b : data) {
      b = static_cast<std::byte>(fill >= 0 ? fill : static_cast<int>(rng() & 0xff));
    }
    for (std::size_t len = 1; len <= data.size(); ++len) {  // odd lengths, block edges, lane tails
      ASSERT_EQ(fletcher32({data.data(), len}), H5_checksum_fletcher32(data.data(), len)) << "length " << len;
    }
  }
  std::vector<std::byte> chunk(1 << 20);  // a chunk of the size taskfarm writes
  for (auto& b : chunk) {
    b = static_cast<std::byte>(rng() & 0xff);
  }
  EXPECT_EQ(fletcher32(chunk), H5_checksum_fletcher32(chunk.data(), chunk.size()));
}

TEST(Fletcher32Test, matches_a_hand_computed_value) {
  // Words 0x0102, 0x0304: sum1 = 0x0406, sum2 = 0x0102 + 0x0406 = 0x0508; odd byte 0x05 adds 0x0500.
  const std::byte four[] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  EXPECT_EQ(fletcher32(four), 0x05080406U);
  const std::byte five[] = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}};
  EXPECT_EQ(fletcher32(five), ((0x0508U + 0x0906U) << 16) | 0x0906U);
}

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
    EXPECT_EQ(f.column_count(), 6U);  // vec, x, state, rank, seconds, attempts
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

TEST_F(ResultsFileTest, whole_chunks_written_raw_read_back_with_their_checksums) {
  const TaskIndex n = 2 * 65536 + 1234;  // 65536 rows a chunk here: the last chunk is partly past the end
  {
    ResultsFile f = make(n);
    const TaskIndex rows = f.chunk_rows();
    ASSERT_LT(rows, n);
    EXPECT_TRUE(f.writes_whole_chunks(0));
    EXPECT_TRUE(f.writes_whole_chunks(f.seconds_column()));
    // A chunk first written in part through HDF5's chunk cache, then whole: the whole one wins
    // (H5Dwrite_chunk drops the cached copy instead of flushing it over the new chunk later).
    const double stale[] = {-1.0, -2.0};
    f.write_tasks(1, {rows + 3, rows + 5}, stale);
    for (TaskIndex first = 0; first < n; first += rows) {
      std::vector<std::byte> vec(rows * 12 + 4);
      std::vector<std::byte> x(rows * 8 + 4);
      for (TaskIndex k = 0; k < rows && first + k < n; ++k) {
        const std::uint32_t v[3] = {static_cast<std::uint32_t>(first + k), 7, static_cast<std::uint32_t>(3 * (first + k))};
        std::memcpy(vec.data() + 12 * k, v, 12);
        const double d = 0.25 * static_cast<double>(first + k);
        std::memcpy(x.data() + 8 * k, &d, 8);
      }
      f.write_chunk(0, first, vec);
      f.write_chunk(1, first, x);
    }
    std::vector<std::byte> spare(rows * 8 + 4);
    EXPECT_THROW(f.write_chunk(1, 1, spare), Error);  // not on a chunk edge
    EXPECT_THROW(f.write_chunk(1, 0, std::span(spare).first(rows * 8)), Error);  // no room for the checksum
  }
  const ResultsFile f = ResultsFile::open(dir_ / "out.h5");
  EXPECT_TRUE(f.find_damage().empty());
  std::vector<std::uint32_t> vec(3 * n);
  std::vector<double> x(n);
  f.read_tasks(0, {0, n}, vec.data());
  f.read_tasks(1, {0, n}, x.data());
  for (TaskIndex t = 0; t < n; ++t) {
    ASSERT_EQ(vec[3 * t], t);
    ASSERT_EQ(vec[3 * t + 1], 7U);
    ASSERT_EQ(vec[3 * t + 2], 3 * t);
    ASSERT_EQ(x[t], 0.25 * static_cast<double>(t)) << "task " << t;
  }
}

/// XORs a few bytes in the middle of chunk `index` of `dataset`, found with HDF5's chunk query.
void damage_chunk(const std::filesystem::path& path, const char* dataset, hsize_t index) {
  haddr_t address = 0;
  hsize_t size = 0;
  {
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    const hid_t ds = H5Dopen2(file, dataset, H5P_DEFAULT);
    hsize_t offset[1] = {0};
    unsigned mask = 0;
    const hid_t space = H5Dget_space(ds);  // 1.10 wants the dataset's own space here, not H5S_ALL
    ASSERT_GE(H5Dget_chunk_info(ds, space, index, offset, &mask, &address, &size), 0);
    H5Sclose(space);
    H5Dclose(ds);
    H5Fclose(file);
  }
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(address + size / 2));
  const char garbage[3] = {'\x5a', '\x5a', '\x5a'};
  f.write(garbage, sizeof garbage);
}

/// A file of `n` tasks, every task done with x = task index.
void fill_done(ResultsFile& f) {
  const TaskIndex n = f.n_tasks();
  std::vector<std::uint32_t> vec(3 * n, 7);
  std::vector<double> x(n);
  std::iota(x.begin(), x.end(), 0.0);
  std::vector<std::uint8_t> done(n, 1);
  f.write_tasks(0, {0, n}, vec.data());
  f.write_tasks(1, {0, n}, x.data());
  f.write_tasks(f.state_column(), {0, n}, done.data());
  f.write_tasks(f.seconds_column(), {0, n}, x.data());
}

TEST_F(ResultsFileTest, checksums_turn_flipped_bytes_into_damaged_tasks_never_into_values) {
  {
    ResultsFile f = make(100000);  // x: 8 bytes, vec: 12 -> chunks of 65536 rows: two blocks
    fill_done(f);
    ASSERT_EQ(f.chunk_rows(), 65536U);
  }
  damage_chunk(dir_ / "out.h5", "/results/x", 1);
  const ResultsFile f = ResultsFile::open(dir_ / "out.h5");
  EXPECT_TRUE(f.has_checksums());
  const std::vector<Damage> damage = f.find_damage();
  ASSERT_EQ(damage.size(), 1U);
  EXPECT_EQ(damage[0].dataset, "/results/x");
  EXPECT_EQ(damage[0].tasks, (TaskRange{65536, 100000}));
  std::vector<double> x(10);
  EXPECT_THROW(f.read_tasks(1, {70000, 70010}, x.data()), H5Error);  // an error, not a wrong number
  f.read_tasks(1, {10, 20}, x.data());                                  // the intact block reads
  EXPECT_EQ(x[0], 10.0);
}

TEST_F(ResultsFileTest, carry_over_moves_finished_tasks_to_their_new_index_and_skips_damage) {
  {
    ResultsFile f = make(100000);
    fill_done(f);
    std::vector<std::uint8_t> pending(10, 0);
    f.write_tasks(f.state_column(), {20, 30}, pending.data());  // tasks 20..29 never finished
    f.append_failures(std::vector<FailureRow>{{5, 1, 0, "h", "boom"}, {99999, 1, 0, "h", "gone"}});
  }
  damage_chunk(dir_ / "out.h5", "/tasks/seconds", 1);
  const ResultsFile from = ResultsFile::open(dir_ / "out.h5");
  ResultsFile::CreateOptions o;
  o.path = dir_ / "new.h5";
  o.n_tasks = 100001;
  o.results = {{"vec", ElementType::u32, {3}, "", ""}, {"x", ElementType::f64, {}, "", ""}};
  ResultsFile to = ResultsFile::create(o);
  std::vector<TaskIndex> target(100000);
  for (TaskIndex t = 0; t < target.size(); ++t) {
    target[t] = t + 1;  // everything moves up one
  }
  target[7] = job::kNoTask;  // task 7 is not in the new job
  const CarryOver moved = carry_over(from, to, target, from.find_damage());
  EXPECT_EQ(moved.damaged, 100000U - 65536U);
  EXPECT_EQ(moved.dropped, 1U);
  EXPECT_EQ(moved.done, 65536U - 10U - 1U);
  const auto counts = count_states(to);
  EXPECT_EQ(counts[1], moved.done);
  std::vector<double> x(4);
  to.read_tasks(1, {5, 9}, x.data());  // new 5, 6 = old 4, 5; new 8 = old 7 (not carried: 0)
  EXPECT_EQ(x, (std::vector<double>{4.0, 5.0, 6.0, 0.0}));
  std::vector<std::uint8_t> state(3);
  to.read_tasks(to.state_column(), {20, 23}, state.data());  // old 19 done, old 20, 21 pending
  EXPECT_EQ(state, (std::vector<std::uint8_t>{1, 0, 0}));
  const auto failures = to.read_failures();
  ASSERT_EQ(failures.size(), 2U);  // both tasks have a place in the new job
  EXPECT_EQ(failures[0].task, 6U);
  EXPECT_EQ(failures[1].task, 100000U);
}

TEST_F(ResultsFileTest, a_writer_holds_a_lock_that_probes_see_and_notices_its_file_replaced) {
  ResultsFile f = make(10);
  EXPECT_EQ(OutputLock::probe(dir_ / "out.h5"), Holder::writer);
  f.flush();
  std::filesystem::rename(dir_ / "out.h5", dir_ / "moved.h5");
  std::ofstream(dir_ / "out.h5") << "another file";
  EXPECT_THROW(f.flush(), Error);
  EXPECT_TRUE(std::filesystem::exists(dir_ / ("out.h5.orphaned-" + std::to_string(getpid()))));
  EXPECT_EQ(OutputLock::probe(dir_ / "out.h5"), Holder::none);
}

TEST_F(ResultsFileTest, input_files_must_be_regular_and_bounded) {
  std::ofstream(dir_ / "job.toml") << "0123456789";
  EXPECT_EQ(job::read_input_file(dir_ / "job.toml", 10, "job file"), "0123456789");
  const auto message = [&](const std::filesystem::path& p, std::uint64_t max) {
    try {
      (void)job::read_input_file(p, max, "job file");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message(dir_ / "job.toml", 9), (dir_ / "job.toml").string() + ": 10 B is too large for a job file (at most 9 B)");
  EXPECT_EQ(message("/dev/zero", 1 << 20),
            "/dev/zero: not a regular file (a FIFO, socket or device); the job file must be a regular file");
  ASSERT_EQ(mkfifo((dir_ / "fifo").c_str(), 0600), 0);
  EXPECT_EQ(message(dir_ / "fifo", 1 << 20), (dir_ / "fifo").string() +
                                                ": not a regular file (a FIFO, socket or device); the job file must be "
                                                "a regular file");
  EXPECT_EQ(message(dir_, 1 << 20), dir_.string() + ": is a directory, not a job file");
  EXPECT_EQ(job::human_bytes(1536.0), "1.5 KiB");
  EXPECT_EQ(job::human_bytes(3.0 * 1024 * 1024 * 1024 * 1024), "3.0 TiB");
}

}  // namespace
}  // namespace taskfarm::io
