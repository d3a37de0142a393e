// The farm under real mpiexec (registered for 1, 2, 3 and 4 ranks): every task done exactly once
// for every policy, results where they belong, failures recorded.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <tuple>
#include <stdexcept>

#include <boost/mpi/communicator.hpp>

#include "mandelbrot/mandelbrot.hpp"
#include "mpi_testing.hpp"
#include "synthetic/synthetic.hpp"
#include "taskfarm/api/adapt.hpp"
#include "taskfarm/app/cost_model.hpp"
#include "taskfarm/cli/output_file.hpp"
#include "taskfarm/farm/farm.hpp"
#include "taskfarm/job/job_spec.hpp"

namespace taskfarm {
namespace {

/// A kernel that fails on every task with index % 7 == 3, and returns 3 * task otherwise.
class Flaky final : public app::Kernel {
 public:
  std::vector<app::Field> schema() const override { return {{"triple", ElementType::i64, {}, "", ""}}; }
  void compute(TaskIndex task, const app::TaskOutput& out) override {
    out.field<std::int64_t>(0)[0] = static_cast<std::int64_t>(3 * task);
    if (task % 7 == 3) {
      throw std::runtime_error("task " + std::to_string(task) + " is unlucky");
    }
  }
};

/// Fails each task with index % 7 == 3 on its first attempt only (a marker file per task, so the
/// second attempt succeeds on whatever rank it lands): the transient failure retries are for.
class FailsOnce final : public app::Kernel {
 public:
  std::vector<app::Field> schema() const override { return {{"triple", ElementType::i64, {}, "", ""}}; }
  void compute(TaskIndex task, const app::TaskOutput& out) override {
    out.field<std::int64_t>(0)[0] = static_cast<std::int64_t>(3 * task);
    if (task % 7 == 3) {
      const std::string marker = "attempted_" + std::to_string(task);
      const int fd = ::open(marker.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
      if (fd >= 0) {
        ::close(fd);
        throw std::runtime_error("transient failure of task " + std::to_string(task));
      }
    }
  }
};

app::Registry registry() {
  app::Registry r;
  r.add(detail::adapt(apps::mandelbrot()));
  r.add(detail::adapt(apps::synthetic()));
  r.add({"flaky", "fails on tasks 3 mod 7", [](app::KernelContext&) { return std::make_unique<Flaky>(); }});
  r.add({"fails_once", "fails once on tasks 3 mod 7", [](app::KernelContext&) { return std::make_unique<FailsOnce>(); }});
  return r;
}

farm::FarmResult run_job(const std::string& text, const std::string& output) {
  const boost::mpi::communicator world;
  const app::Registry reg = registry();
  job::JobSpec spec = job::parse_job(text, "test.toml");
  auto kernel = reg.instantiate(spec, world.rank());
  std::unique_ptr<io::ResultsFile> file;
  if (world.rank() == 0) {
    file = std::make_unique<io::ResultsFile>(cli::create_output(output, true, spec, *kernel, world.size()));
  }
  farm::FarmOptions options;
  options.progress_seconds = 0;
  farm::FarmPlan plan;
  plan.pending = {TaskRange{0, spec.params.size()}};
  const farm::FarmResult result = farm::run_farm(world, spec, {kernel.get()}, file.get(), options, plan);
  file.reset();  // closed before anyone reads it
  world.barrier();
  return result;
}

/// Checks on rank 0 that /chunks tiles [0, n) exactly and that /tasks/rank agrees with it.
::testing::AssertionResult every_task_once(const std::string& path, TaskIndex n, int n_ranks) {
  const io::ResultsFile f = io::ResultsFile::open(path);
  std::vector<io::ChunkRow> chunks = f.read_chunks();
  std::sort(chunks.begin(), chunks.end(), [](const auto& a, const auto& b) { return a.begin < b.begin; });
  std::vector<std::int32_t> rank(n);
  f.read_tasks(f.rank_column(), {0, n}, rank.data());
  TaskIndex next = 0;
  for (const io::ChunkRow& c : chunks) {
    if (c.begin != next || c.end <= c.begin) {
      return ::testing::AssertionFailure() << "chunk [" << c.begin << ", " << c.end << ") after task " << next;
    }
    if (c.rank < 0 || c.rank >= n_ranks) {
      return ::testing::AssertionFailure() << "chunk from rank " << c.rank;
    }
    for (TaskIndex t = c.begin; t < c.end; ++t) {
      if (rank[t] != c.rank) {
        return ::testing::AssertionFailure() << "task " << t << " says rank " << rank[t] << ", chunk says " << c.rank;
      }
    }
    next = c.end;
  }
  if (next != n) {
    return ::testing::AssertionFailure() << "chunks end at " << next << " of " << n;
  }
  return ::testing::AssertionSuccess();
}

struct PolicyCase {
  std::string schedule;  // the [schedule] table body
};

class FarmPolicyTest : public ::testing::TestWithParam<PolicyCase> {};

TEST_P(FarmPolicyTest, every_task_exactly_once_with_its_own_result) {
  const boost::mpi::communicator world;
  constexpr TaskIndex n = 997;  // prime: no policy divides it evenly
  const std::string text = "[job]\napp = \"synthetic\"\n[schedule]\n" + GetParam().schedule +
                           "\n[params]\ntask = { range = [0, 997] }\n"
                           "[app]\ndistribution = \"exponential\"\nmean_ms = 0.02\nseed = 5\n";
  const farm::FarmResult r = run_job(text, "policy.h5");
  bool ok = r.done == n && r.failed == 0;
  if (world.rank() == 0) {
    const auto once = every_task_once("policy.h5", n, world.size());
    EXPECT_TRUE(once);
    ok = ok && once;
    const io::ResultsFile f = io::ResultsFile::open("policy.h5");
    std::vector<double> seconds(n);
    std::vector<std::uint8_t> state(n);
    f.read_tasks(0, {0, n}, seconds.data());
    f.read_tasks(f.state_column(), {0, n}, state.data());
    const job::JobSpec spec = job::parse_job(text, "test.toml");
    const app::CostModel model = app::CostModel::from_settings(spec.app_settings.view(), n);
    for (TaskIndex t = 0; t < n; ++t) {
      ok = ok && state[t] == 1 && seconds[t] == model.seconds(t);
    }
    EXPECT_EQ(f.text_attribute("status"), "complete");
  }
  EXPECT_TRUE(testing::all_ok(world, ok));
}

INSTANTIATE_TEST_SUITE_P(
    Policies, FarmPolicyTest,
    ::testing::Values(PolicyCase{"policy = \"static\""}, PolicyCase{"policy = \"ss\""},
                      PolicyCase{"policy = \"fsc\"\nchunk = 13"}, PolicyCase{"policy = \"gss\""},
                      PolicyCase{"policy = \"fac2\""}, PolicyCase{"policy = \"static\"\nmaster_computes = false"},
                      PolicyCase{"policy = \"ss\"\nmaster_computes = false"},
                      PolicyCase{"policy = \"gss\"\nmaster_computes = false\nprefetch = 3"},
                      PolicyCase{"policy = \"fac2\"\nmin_chunk = 5\nmax_chunk = 40\nprefetch = 1"},
                      // Two-level scheduling: with 4 ranks, groups {0, 1} and {2, 3} (rank 2 a group
                      // master); with fewer ranks than 2 per group it falls back to flat.
                      PolicyCase{"policy = \"gss\"\ngroups = 2"}, PolicyCase{"policy = \"ss\"\ngroups = 2"},
                      PolicyCase{"policy = \"af\"\ngroups = 2\nroot_policy = \"gss\""},
                      PolicyCase{"policy = \"tss\"\ngroups = 2\nmaster_computes = false"},
                      PolicyCase{"policy = \"auto\""}, PolicyCase{"policy = \"awf-c\""}));

TEST(FarmTest, fewer_tasks_than_ranks_with_groups) {
  // Group members whose first (and only) chunk is a single task must not wait holding its result.
  const boost::mpi::communicator world;
  const farm::FarmResult r = run_job(
      "[job]\napp = \"synthetic\"\n[schedule]\npolicy = \"ss\"\ngroups = 2\n[params]\ntask = { range = [0, 3] }\n"
      "[app]\nmean_ms = 0.1\n",
      "few.h5");
  EXPECT_TRUE(testing::all_ok(world, r.done == 3 && r.pending == 0));
}

TEST(FarmTest, mandelbrot_equals_the_serial_image) {
  const boost::mpi::communicator world;
  const std::string text =
      "[job]\napp = \"mandelbrot\"\n[schedule]\npolicy = \"gss\"\n"
      "[app]\nwidth = 73\nheight = 41\nmax_iter = 300\nregion = [-2.0, 0.6, -1.1, 1.1]\n";
  (void)run_job(text, "mandelbrot.h5");
  bool ok = true;
  if (world.rank() == 0) {
    // The same kernel called serially, one row after another, without the farm.
    job::JobSpec spec = job::parse_job(text, "test.toml");
    auto kernel = registry().instantiate(spec, 0);
    std::vector<std::uint32_t> serial(41 * 73);
    for (TaskIndex row = 0; row < 41; ++row) {
      std::byte* slot = reinterpret_cast<std::byte*>(serial.data() + row * 73);
      kernel->compute(row, app::TaskOutput(&slot));
    }
    std::vector<std::uint32_t> farmed(41 * 73);
    io::ResultsFile::open("mandelbrot.h5").read_tasks(0, {0, 41}, farmed.data());
    ok = serial == farmed;
    EXPECT_EQ(serial, farmed);
  }
  EXPECT_TRUE(testing::all_ok(world, ok));
}

TEST(FarmTest, failing_tasks_are_retried_recorded_and_the_rest_completes) {
  const boost::mpi::communicator world;
  constexpr TaskIndex n = 100;
  const farm::FarmResult r = run_job(
      "[job]\napp = \"flaky\"\nretries = 2\n[schedule]\npolicy = \"fsc\"\nchunk = 6\n"
      "[params]\ntask = { range = [0, 100] }\n",
      "flaky.h5");
  // tasks 3, 10, ..., 94 always fail: 14 of them, each tried 1 + 2 times.
  bool ok = r.failed == 14 && r.done == n - 14 && r.pending == 0 && r.exit_code() == ExitCode::tasks_failed;
  EXPECT_EQ(r.failed, 14U);
  if (world.rank() == 0) {
    const io::ResultsFile f = io::ResultsFile::open("flaky.h5");
    std::vector<std::int64_t> triple(n);
    std::vector<std::uint8_t> state(n);
    f.read_tasks(0, {0, n}, triple.data());
    f.read_tasks(f.state_column(), {0, n}, state.data());
    for (TaskIndex t = 0; t < n; ++t) {
      const bool bad = t % 7 == 3;
      ok = ok && state[t] == (bad ? 2 : 1) && triple[t] == (bad ? 0 : static_cast<std::int64_t>(3 * t));
    }
    std::vector<io::FailureRow> failures = f.read_failures();
    std::sort(failures.begin(), failures.end(),
              [](const auto& a, const auto& b) { return std::tie(a.task, a.attempt) < std::tie(b.task, b.attempt); });
    ok = ok && failures.size() == 3 * 14;
    const int workers = world.size();  // rank 0 computes too
    for (std::size_t i = 0; ok && i < failures.size(); i += 3) {
      ok = failures[i].task == failures[i + 2].task && failures[i].attempt == 1 && failures[i + 2].attempt == 3 &&
           failures[i].message == "task " + std::to_string(failures[i].task) + " is unlucky" &&
           !failures[i].host.empty();
      // A retry goes to another worker when there is one.
      ok = ok && (workers < 2 || failures[i].rank != failures[i + 1].rank);
    }
    EXPECT_TRUE(ok);
    EXPECT_EQ(f.text_attribute("status"), "failed");
  }
  EXPECT_TRUE(testing::all_ok(world, ok));
}

/// An order and, computed here by hand, the task each schedule position runs (100 tasks).
struct OrderCase {
  std::string order;
  std::vector<TaskIndex> task_at;
};

std::vector<TaskIndex> reversed_100() {
  std::vector<TaskIndex> t(100);
  for (TaskIndex p = 0; p < 100; ++p) {
    t[p] = 99 - p;
  }
  return t;
}

/// cost:(task-50)^2, largest first: task 0 (2500), then 1 and 99 (2401 each; a tie keeps index
/// order), 2 and 98, ..., 49 and 51, and last 50 (0).
std::vector<TaskIndex> by_distance_from_50() {
  std::vector<TaskIndex> t;
  t.push_back(0);  // 2500
  for (TaskIndex d = 49; d >= 1; --d) {  // distance d: task 50-d, then 50+d (index order on ties)
    t.push_back(50 - d);
    t.push_back(50 + d);
  }
  t.push_back(50);  // 0
  return t;
}

class FarmOrderTest : public ::testing::TestWithParam<OrderCase> {};

TEST_P(FarmOrderTest, results_failures_and_ranks_land_at_their_task_not_their_position) {
  const boost::mpi::communicator world;
  constexpr TaskIndex n = 100;
  const OrderCase& c = GetParam();
  ASSERT_EQ(c.task_at.size(), n);
  const farm::FarmResult r = run_job("[job]\napp = \"flaky\"\nretries = 1\n[schedule]\npolicy = \"fsc\"\nchunk = 6\n"
                                     "order = \"" + c.order + "\"\n[params]\ntask = { range = [0, 100] }\n",
                                     "ordered.h5");
  bool ok = r.failed == 14 && r.done == n - 14 && r.pending == 0;
  if (world.rank() == 0) {
    const io::ResultsFile f = io::ResultsFile::open("ordered.h5");
    std::vector<std::int64_t> triple(n);
    std::vector<std::uint8_t> state(n);
    std::vector<std::int32_t> rank(n);
    f.read_tasks(0, {0, n}, triple.data());
    f.read_tasks(f.state_column(), {0, n}, state.data());
    f.read_tasks(f.rank_column(), {0, n}, rank.data());
    for (TaskIndex t = 0; t < n; ++t) {
      const bool bad = t % 7 == 3;
      EXPECT_EQ(state[t], bad ? 2 : 1) << "task " << t;
      EXPECT_EQ(triple[t], bad ? 0 : static_cast<std::int64_t>(3 * t)) << "task " << t;
      ok = ok && state[t] == (bad ? 2 : 1) && triple[t] == (bad ? 0 : static_cast<std::int64_t>(3 * t));
    }
    for (const io::FailureRow& fr : f.read_failures()) {  // task indices, not positions
      EXPECT_EQ(fr.message, "task " + std::to_string(fr.task) + " is unlucky");
      ok = ok && fr.message == "task " + std::to_string(fr.task) + " is unlucky";
    }
    // /chunks tiles the positions; each position's task was computed by the chunk's rank (a
    // failed task's final rank is its last attempt's, so only done tasks are checked).
    std::vector<io::ChunkRow> chunks = f.read_chunks();
    std::sort(chunks.begin(), chunks.end(),
              [](const auto& a, const auto& b) { return std::tie(a.begin, b.end) < std::tie(b.begin, a.end); });
    TaskIndex next = 0;
    for (const io::ChunkRow& ch : chunks) {
      if (ch.begin != next) {
        continue;  // a retry (one task, re-sent): not part of the tiling
      }
      for (TaskIndex p = ch.begin; p < ch.end; ++p) {
        const TaskIndex t = c.task_at[p];
        ok = ok && (t % 7 == 3 || rank[t] == ch.rank);
      }
      next = ch.end;
    }
    EXPECT_EQ(next, n);
    ok = ok && next == n;
  }
  EXPECT_TRUE(testing::all_ok(world, ok));
}

INSTANTIATE_TEST_SUITE_P(Orders, FarmOrderTest,
                         ::testing::Values(OrderCase{"reverse", reversed_100()},
                                           OrderCase{"by:-task", reversed_100()},
                                           OrderCase{"cost:(task-50)^2", by_distance_from_50()}));

TEST(FarmTest, a_transient_failure_is_retried_and_the_task_ends_done) {
  const boost::mpi::communicator world;
  constexpr TaskIndex n = 60;
  const farm::FarmResult r = run_job(
      "[job]\napp = \"fails_once\"\nretries = 1\n[schedule]\npolicy = \"ss\"\n[params]\ntask = { range = [0, 60] }\n",
      "fails_once.h5");
  bool ok = r.done == n && r.failed == 0 && r.exit_code() == ExitCode::success;
  if (world.rank() == 0) {
    const io::ResultsFile f = io::ResultsFile::open("fails_once.h5");
    std::vector<std::int64_t> triple(n);
    f.read_tasks(0, {0, n}, triple.data());
    for (TaskIndex t = 0; t < n; ++t) {
      ok = ok && triple[t] == static_cast<std::int64_t>(3 * t);
    }
    const auto failures = f.read_failures();
    ok = ok && failures.size() == 9;  // 3, 10, ..., 59: once each
    for (const auto& fr : failures) {
      ok = ok && fr.attempt == 1 && fr.task % 7 == 3;
    }
    EXPECT_EQ(f.text_attribute("status"), "complete");
    for (TaskIndex t = 3; t < n; t += 7) {
      std::remove(("attempted_" + std::to_string(t)).c_str());
    }
  }
  EXPECT_TRUE(testing::all_ok(world, ok));
}

TEST(FarmTest, many_tiny_tasks_with_chunks_of_one) {
  const boost::mpi::communicator world;
  constexpr TaskIndex n = 20000;
  const farm::FarmResult r = run_job(
      "[job]\napp = \"synthetic\"\n[schedule]\npolicy = \"ss\"\n[params]\ntask = { range = [0, 20000] }\n"
      "[app]\nmean_ms = 0.0\n",
      "tiny.h5");
  bool ok = r.done == n;
  if (world.rank() == 0) {
    const auto once = every_task_once("tiny.h5", n, world.size());
    EXPECT_TRUE(once);
    ok = ok && once;
  }
  EXPECT_TRUE(testing::all_ok(world, ok));
}

}  // namespace
}  // namespace taskfarm
