#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "taskfarm/core/clock.hpp"
#include "taskfarm/core/tick_clock.hpp"
#include "taskfarm/farm/chunk_runner.hpp"
#include "taskfarm/farm/protocol.hpp"
#include "taskfarm/farm/stop_signal.hpp"
#include "taskfarm/job/param_expression.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/job/param_space.hpp"
#include "taskfarm/job/task_order.hpp"

namespace taskfarm::farm {
namespace {

/// Spins (steady_clock, not the tick clock under test) 1 ms on even tasks and 3 ms on odd ones;
/// task 5 throws.
class Spinner final : public app::Kernel {
 public:
  std::vector<app::Field> schema() const override { return {{"task", ElementType::i64, {}, "", ""}}; }
  void compute(TaskIndex task, const app::TaskOutput& out) override {
    const double until = now_seconds() + (task % 2 == 0 ? 1e-3 : 3e-3);
    while (now_seconds() < until) {
    }
    out.field<std::int64_t>(0)[0] = static_cast<std::int64_t>(task);
    if (task == 5) {
      throw std::runtime_error("five");
    }
  }
};

const job::TaskOrder identity_(1000);  // the default order: position p runs task p

/// Records the tasks it computes; task 1 throws.
class Recorder final : public app::Kernel {
 public:
  std::vector<app::Field> schema() const override { return {{"task", ElementType::i64, {}, "", ""}}; }
  void compute(TaskIndex task, const app::TaskOutput& out) override {
    seen.push_back(task);
    out.field<std::int64_t>(0)[0] = static_cast<std::int64_t>(task);
    if (task == 1) {
      throw std::runtime_error("one");
    }
  }
  std::vector<TaskIndex> seen;
};

// The runner is handed positions and gives the kernel task indices: under "reverse" over 6 tasks,
// positions 2..5 are tasks 3, 2, 1, 0; the failure of task 1 is reported at its position, 4, which
// is what the master counts retries by and the writer turns back into task 1.
TEST(ChunkRunnerTest, computes_the_task_at_each_position_and_reports_failures_by_position) {
  job::ParamSpace params({job::Axis::integer_range("i", 0, 6)}, job::Combine::product);
  const job::TaskOrder reverse = job::TaskOrder::build(job::parse_order("reverse", "test"), params);
  Recorder kernel;
  ChunkRunner runner({&kernel}, {8}, reverse);
  ReportBuilder report({8});
  ASSERT_EQ(runner.run({2, 6}, report, now_seconds() + 60.0), 6U);
  EXPECT_EQ(kernel.seen, (std::vector<TaskIndex>{3, 2, 1, 0}));
  const std::vector<std::byte> bytes = report.take(0, 0);
  const Report r = decode_report(bytes, std::vector<std::size_t>{8});
  ASSERT_EQ(r.pieces.size(), 1U);
  EXPECT_EQ(r.pieces[0].range, (TaskRange{2, 6}));  // the piece is filed by positions, as the chunk was
  const auto* values = reinterpret_cast<const std::int64_t*>(r.pieces[0].fields[0]);
  EXPECT_EQ(values[0], 3);
  EXPECT_EQ(values[3], 0);
  ASSERT_EQ(r.failures.size(), 1U);
  EXPECT_EQ(r.failures[0].position, Position{4});
  EXPECT_EQ(reverse.task(r.failures[0].position), 1U);
}

// No test compares the start-up rate (TickClock::nominal_seconds_per_tick(), 2 ms against
// steady_clock) with a later measurement: a stall between two of its clock reads moves it by any
// amount on a loaded machine. The calibration that converts task times is checked instead: it is the
// ratio of seconds to ticks since its origin (read in its constructor), and clock reads on both sides
// of the constructor bracket that origin, so the ratio has bounds that no stall can break (the
// tolerance is for time-stamp counters a little apart on different cores).
TEST(TickCalibrationTest, rate_is_seconds_over_ticks_since_construction) {
  ASSERT_GT(TickClock::nominal_seconds_per_tick(), 0.0);
  if (!TickClock::uses_tsc()) {  // ticks are steady_clock's own
    using period = std::chrono::steady_clock::period;
    EXPECT_EQ(TickClock::nominal_seconds_per_tick(),
              static_cast<double>(period::num) / static_cast<double>(period::den));
  }
  const std::uint64_t ticks_before = TickClock::now();
  const double seconds_before = now_seconds();
  TickCalibration calibration;
  const double seconds_after = now_seconds();
  const std::uint64_t ticks_after = TickClock::now();
  EXPECT_EQ(calibration.seconds_per_tick(), TickClock::nominal_seconds_per_tick());
  // Too early (less than kMinSpan after the origin) or no tick later: the rate stays nominal.
  calibration.update(seconds_before, ticks_after + 1000);
  calibration.update(seconds_after + 1.0, ticks_before);
  EXPECT_EQ(calibration.seconds_per_tick(), TickClock::nominal_seconds_per_tick());

  while (now_seconds() - seconds_after < 20e-3) {
  }
  const std::uint64_t ticks = TickClock::now();
  const double seconds = now_seconds();
  ASSERT_GT(ticks, ticks_after);
  calibration.update(seconds, ticks);
  const double lowest = (seconds - seconds_after) / static_cast<double>(ticks - ticks_before);
  const double highest = (seconds - seconds_before) / static_cast<double>(ticks - ticks_after);
  EXPECT_GE(calibration.seconds_per_tick(), lowest * (1 - 1e-3));
  EXPECT_LE(calibration.seconds_per_tick(), highest * (1 + 1e-3));
}

// Timings here have lower bounds only, and the wall time of the run as upper bound: a loaded machine
// can stretch any task (or the gaps between tasks) without limit.
TEST(ChunkRunnerTest, times_every_task_in_seconds_and_keeps_exact_moments) {
  Spinner kernel;
  const double t0 = now_seconds();  // before the runner: its calibration's origin is inside the wall time
  ChunkRunner runner({&kernel}, {8}, identity_);
  ReportBuilder report({8});
  const TaskIndex reached = runner.run({0, 8}, report, now_seconds() + 60.0);
  const double wall = now_seconds() - t0;
  ASSERT_EQ(reached, 8U);
  const std::vector<std::byte> bytes = report.take(0, 0);
  const std::vector<std::size_t> widths{8};
  const Report r = decode_report(bytes, widths);
  ASSERT_EQ(r.pieces.size(), 1U);
  const PieceView& p = r.pieces[0];
  double sum = 0.0;
  for (TaskIndex k = 0; k < 8; ++k) {
    const double nominal = k % 2 == 0 ? 1e-3 : 3e-3;
    EXPECT_GE(p.seconds[k], 0.95 * nominal) << "task " << k;  // a spin never ends early
    sum += p.seconds[k];
  }
  // Seconds, not ticks, and no task counted twice: the tasks' times add up to at most the wall time
  // (they span at most the calibration's ticks, which convert to at most its seconds).
  EXPECT_LE(sum, wall * (1 + 1e-3));
  EXPECT_EQ(p.state[5], static_cast<std::uint8_t>(io::TaskState::failed));
  EXPECT_EQ(reinterpret_cast<const std::int64_t*>(p.fields[0])[5], 0);  // a failed task's results are zeros
  EXPECT_EQ(reinterpret_cast<const std::int64_t*>(p.fields[0])[6], 6);
  // The chunk's moments are those of exactly the recorded times (two-pass, computed here directly).
  const double mean = sum / 8.0;
  double m2 = 0.0;
  for (TaskIndex k = 0; k < 8; ++k) {
    m2 += (p.seconds[k] - mean) * (p.seconds[k] - mean);
  }
  EXPECT_EQ(runner.stats().n, 8U);
  EXPECT_NEAR(runner.stats().mean, mean, 1e-12);
  EXPECT_NEAR(runner.stats().variance(), m2 / 7.0, 1e-12);
  EXPECT_EQ(runner.failures(), 1U);
}

TEST(ChunkRunnerTest, stops_at_the_deadline_after_at_least_one_task) {
  Spinner kernel;
  const double t0 = now_seconds();
  ChunkRunner runner({&kernel}, {8}, identity_);
  ReportBuilder report({8});
  // Already past: one task, then stop.
  EXPECT_EQ(runner.run({10, 20}, report, now_seconds() - 1.0), 11U);
  // 5 ms from now: tasks 11 (3 ms), 12 (1 ms), 13 (3 ms) take it past the deadline at 7 ms (fewer
  // if the machine stalls us: a stall only brings the deadline closer; a tick rate off by 2x would
  // run to task 15).
  const TaskIndex reached = runner.run({11, 20}, report, now_seconds() + 5e-3);
  const double wall = now_seconds() - t0;
  EXPECT_GE(reached, 12U);
  EXPECT_LE(reached, 14U);
  // Truncated pieces keep their times in seconds and their states (the arrays move when a piece
  // shrinks).
  const std::vector<std::byte> bytes = report.take(0, 0);
  const std::vector<std::size_t> widths{8};
  const Report r = decode_report(bytes, widths);
  ASSERT_EQ(r.pieces.size(), 2U);
  for (const PieceView& p : r.pieces) {
    for (TaskIndex k = 0; k < p.range.size(); ++k) {
      const TaskIndex task = p.range.begin + k;
      EXPECT_GE(p.seconds[k], task % 2 == 0 ? 0.95e-3 : 2.85e-3) << "task " << task;
      EXPECT_LE(p.seconds[k], wall * (1 + 1e-3)) << "task " << task;  // seconds, not ticks
      EXPECT_EQ(p.state[k], static_cast<std::uint8_t>(io::TaskState::done)) << "task " << task;
      EXPECT_EQ(reinterpret_cast<const std::int64_t*>(p.fields[0])[k], static_cast<std::int64_t>(task));
    }
  }
}

TEST(ChunkRunnerTest, a_stop_request_ends_the_piece_after_the_current_task) {
  Spinner kernel;
  std::atomic<int> stop{1};
  ChunkRunner runner({&kernel}, {8}, identity_, &stop);
  ReportBuilder report({8});
  EXPECT_EQ(runner.run({0, 10}, report, now_seconds() + 60.0), 1U);
}

/// Sleeps 2 ms per task (a program's wait, not a spin: lanes overlap on any core count), writes
/// its task; task 5 fails keeping its output (TaskFailed), the task `interrupt_at` throws Interrupted.
class Sleeper final : public app::Kernel {
 public:
  explicit Sleeper(TaskIndex interrupt_at = ~TaskIndex{0}) : interrupt_at_(interrupt_at) {}
  std::vector<app::Field> schema() const override { return {{"task", ElementType::i64, {}, "", ""}}; }
  void compute(TaskIndex task, const app::TaskOutput& out) override {
    ++count;
    out.field<std::int64_t>(0)[0] = static_cast<std::int64_t>(task) + 100;
    if (task == interrupt_at_) {
      throw Interrupted("stopped");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    if (task == 5) {
      throw TaskFailed("five, kept");
    }
  }
  int count = 0;

 private:
  TaskIndex interrupt_at_;
};

// [job] slots: three kernels, three tasks at once; the report is the same as one kernel's would be.
TEST(ChunkRunnerTest, slots_compute_every_task_once_and_report_failures_in_order) {
  Sleeper a;
  Sleeper b;
  Sleeper c;
  ChunkRunner runner({&a, &b, &c}, {8}, identity_);
  ReportBuilder report({8});
  ASSERT_EQ(runner.run({0, 30}, report, now_seconds() + 60.0), 30U);
  EXPECT_EQ(a.count + b.count + c.count, 30);
  EXPECT_GT(b.count, 0);  // the other lanes took tasks too
  EXPECT_GT(c.count, 0);
  const std::vector<std::byte> bytes = report.take(0, 0);
  const Report r = decode_report(bytes, std::vector<std::size_t>{8});
  ASSERT_EQ(r.pieces.size(), 1U);
  const auto* values = reinterpret_cast<const std::int64_t*>(r.pieces[0].fields[0]);
  for (TaskIndex k = 0; k < 30; ++k) {
    EXPECT_EQ(values[k], static_cast<std::int64_t>(k) + 100) << k;  // TaskFailed kept task 5's output too
    EXPECT_EQ(r.pieces[0].state[k], static_cast<std::uint8_t>(k == 5 ? io::TaskState::failed : io::TaskState::done));
    EXPECT_GE(r.pieces[0].seconds[k], 1.9e-3) << k;
  }
  ASSERT_EQ(r.failures.size(), 1U);
  EXPECT_EQ(r.failures[0].position, Position{5});
  EXPECT_EQ(r.failures[0].message, "five, kept");
  EXPECT_EQ(runner.stats().n, 30U);
}

// A task cut short by the job's stop is neither done nor failed: the report ends before it (with
// slots, tasks after it that finished are left out too: they run again on resume).
TEST(ChunkRunnerTest, a_task_interrupted_by_the_stop_stays_pending) {
  std::atomic<int> stop{0};
  {
    Sleeper kernel(3);
    stop = 10;  // a signal arrived (the kernel saw it and threw Interrupted)
    ChunkRunner runner({&kernel}, {8}, identity_, &stop);
    ReportBuilder report({8});
    EXPECT_EQ(runner.run({3, 10}, report, now_seconds() + 60.0), 3U);  // nothing computed, nothing failed
    EXPECT_EQ(runner.failures(), 0U);
    const std::vector<std::byte> bytes = report.take(0, 0);
    const Report r = decode_report(bytes, std::vector<std::size_t>{8});
    EXPECT_TRUE(r.failures.empty());
  }
  {
    Sleeper a(4);
    Sleeper b(4);
    stop = 0;
    ChunkRunner runner({&a, &b}, {8}, identity_, &stop);
    ReportBuilder report({8});
    stop = 10;
    const TaskIndex first = runner.run({0, 10}, report, now_seconds() + 60.0);  // a stop ends the piece early:
    EXPECT_GE(first, 1U);  // each lane finishes the task it took
    EXPECT_LE(first, 2U);
    stop = 0;
    ReportBuilder again({8});
    const TaskIndex reached = runner.run({first, 10}, again, now_seconds() + 60.0);
    EXPECT_EQ(reached, 10U);  // no stop: Interrupted without one is a failure, not a silent pending task
    const std::vector<std::byte> bytes = again.take(0, 0);
    const Report r = decode_report(bytes, std::vector<std::size_t>{8});
    ASSERT_EQ(r.failures.size(), 2U);
    EXPECT_EQ(r.failures[0].position, Position{4});
    EXPECT_EQ(r.failures[0].message, "interrupted with no stop requested: stopped");
  }
}

// Walltime-aware start: a task expected to end after the job's end is not started, and the job is
// asked to stop (kStopDeadline), whether one kernel runs or several.
TEST(ChunkRunnerTest, a_task_that_cannot_end_in_time_is_not_started) {
  job::ParamSpace params({job::Axis::list("s", std::vector<double>{0.001, 0.001, 5.0, 0.001})}, job::Combine::zip);
  const job::TaskOrder order = job::TaskOrder::build(job::parse_order("index", "test"), params);
  for (int lanes : {1, 2}) {
    clear_stop();
    StartLimit limit;
    limit.end = now_seconds() + 1.0;
    limit.expected = job::ParamExpression::parse("s", params);
    Sleeper a;
    Sleeper b;
    ChunkRunner runner(lanes == 1 ? std::vector<app::Kernel*>{&a} : std::vector<app::Kernel*>{&a, &b}, {8}, order,
                       &stop_flag(), &limit);
    ReportBuilder report({8});
    EXPECT_EQ(runner.run({0, 4}, report, now_seconds() + 60.0), 2U) << lanes << " lanes";
    EXPECT_EQ(stop_requested(), kStopDeadline);
    EXPECT_EQ(runner.failures(), 0U);
  }
  clear_stop();
}

}  // namespace
}  // namespace taskfarm::farm
