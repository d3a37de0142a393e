// The farm simulator against makespans worked out by hand from its model (simulator.hpp), and the
// `taskfarm simulate` command on small jobs.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "mandelbrot/mandelbrot.hpp"
#include "synthetic/synthetic.hpp"
#include "taskfarm/api/adapt.hpp"
#include "taskfarm/cli/simulate_command.hpp"
#include "taskfarm/core/error.hpp"
#include "taskfarm/io/results_file.hpp"
#include "taskfarm/schedule/simulator.hpp"

namespace taskfarm::schedule {
namespace {

constexpr double kEps = 1e-9;

TaskCost constant(double seconds) {
  return [seconds](TaskIndex) { return seconds; };
}

/// P ranks, rank 0 only schedules, no overheads: the textbook setting.
SimConfig flat(int ranks, PolicyKind kind) {
  SimConfig c;
  c.ranks = ranks;
  c.policy.kind = kind;
  c.master_computes = false;
  return c;
}

struct Row {
  TaskIndex begin;
  TaskIndex end;
  int rank;
  double assigned;
  double started;
  double finished;
};

/// Checks every chunk row; the expected times are in units of `unit` seconds.
void expect_rows(const SimResult& r, const std::vector<Row>& expected, double unit = 1.0) {
  ASSERT_EQ(r.chunk_rows.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const SimChunk& c = r.chunk_rows[i];
    const Row& e = expected[i];
    EXPECT_EQ(c.begin, e.begin) << "chunk " << i;
    EXPECT_EQ(c.end, e.end) << "chunk " << i;
    EXPECT_EQ(c.rank, e.rank) << "chunk " << i;
    EXPECT_NEAR(c.assigned, e.assigned * unit, kEps) << "chunk " << i;
    EXPECT_NEAR(c.started, e.started * unit, kEps) << "chunk " << i;
    EXPECT_NEAR(c.finished, e.finished * unit, kEps) << "chunk " << i;
  }
}

// Tasks of a millisecond in the hand-worked cases below: a worker also sends its results on their
// own once a second has passed since its last message (as the real one does), which would add
// messages to the count with tasks of a second.

TEST(SimulatorTest, self_scheduling_four_unit_tasks_on_two_workers_take_two_units) {
  const SimResult r = simulate(flat(3, PolicyKind::ss), 4, constant(1e-3));
  EXPECT_DOUBLE_EQ(r.makespan, 2e-3);
  EXPECT_DOUBLE_EQ(r.total_cost, 4e-3);
  EXPECT_DOUBLE_EQ(r.efficiency, 1.0);
  EXPECT_EQ(r.computing_ranks, 2);
  EXPECT_EQ(r.chunks, 4U);
  // 3 requests a worker (the third answered "no more" once both workers' last reports are in), 2
  // final messages.
  EXPECT_EQ(r.master_messages, 8U);
  expect_rows(r, {{0, 1, 1, 0, 0, 1}, {1, 2, 2, 0, 0, 1}, {2, 3, 1, 1, 1, 2}, {3, 4, 2, 1, 1, 2}}, 1e-3);
}

TEST(SimulatorTest, service_time_and_latency_add_up_as_worked_out_by_hand) {
  // Service h, latency L, 2 workers, 4 unit tasks (unit: 1 ms). Worker 1: asks at 0, the master takes it up at L
  // and replies at L + h, it computes until 1 + 2L + h, asks again: taken up at 1 + 3L + h, done
  // at 2 + 4L + 2h. Worker 2 waits for worker 1's service each time: 1 + 2L + 2h, then its second
  // request queues behind worker 1's second: taken up at 1 + 3L + 2h, done at 2 + 4L + 3h.
  SimConfig c = flat(3, PolicyKind::ss);
  c.service = 0.1e-3;
  EXPECT_NEAR(simulate(c, 4, constant(1e-3)).makespan, (2.0 + 3 * 0.1) * 1e-3, kEps);
  c.latency = 0.05e-3;
  const SimResult r = simulate(c, 4, constant(1e-3));
  EXPECT_NEAR(r.makespan, (2.0 + 4 * 0.05 + 3 * 0.1) * 1e-3, kEps);
  EXPECT_NEAR(r.efficiency, 4.0 / (2 * 2.5), 1e-9);
  expect_rows(r,
              {{0, 1, 1, 0.05, 0.2, 1.2},
               {1, 2, 2, 0.15, 0.3, 1.3},
               {2, 3, 1, 1.25, 1.4, 2.4},
               {3, 4, 2, 1.35, 1.5, 2.5}},
              1e-3);
}

TEST(SimulatorTest, master_saturates_under_self_scheduling) {
  // ss, tasks of 1 ms, the master needs 1 ms per message, 7 workers: the master is the bottleneck.
  // It decides task k at k ms (k = 0..69) and replies at k + 1; task 69 ends at 71 ms. Efficiency
  // 70 / (7 * 71) -> 1/7 for many tasks. It is never idle: 70 + 7 "no more" + 7 final messages.
  SimConfig c = flat(8, PolicyKind::ss);
  c.service = 1e-3;
  const SimResult r = simulate(c, 70, constant(1e-3));
  EXPECT_NEAR(r.makespan, 71e-3, kEps);
  EXPECT_NEAR(r.efficiency, 70.0 / (7 * 71.0), 1e-9);
  EXPECT_EQ(r.master_messages, 84U);
  EXPECT_NEAR(r.master_busy_seconds, 84e-3, kEps);
  EXPECT_NEAR(r.master_utilisation, 1.0, 1e-9);

  // Rank 0 computing too adds one task per ms without messages: 2 tasks per ms, so 16 tasks are
  // decided by 7 ms, the master's last one replied at 8 and done at 9 ms; efficiency 16 / (8 * 9).
  c.master_computes = true;
  const SimResult m = simulate(c, 16, constant(1e-3));
  EXPECT_NEAR(m.makespan, 9e-3, kEps);
  EXPECT_EQ(m.computing_ranks, 8);
  EXPECT_NEAR(m.efficiency, 16.0 / (8 * 9.0), 1e-9);
}

TEST(SimulatorTest, guided_beats_static_on_an_increasing_workload) {
  // Task i costs i + 1, 8 tasks, 2 workers, no overheads (total 36).
  const TaskCost increasing = [](TaskIndex i) { return static_cast<double>(i + 1); };
  // static: blocks 0-3 (1+2+3+4 = 10) and 4-7 (5+6+7+8 = 26).
  const SimResult s = simulate(flat(3, PolicyKind::static_block), 8, increasing);
  EXPECT_DOUBLE_EQ(s.makespan, 26.0);
  EXPECT_NEAR(s.efficiency, 36.0 / 52.0, kEps);
  // gss: ceil(8/2) = 4 -> rank 1 (0-3, done at 10); ceil(4/2) = 2 -> rank 2 (4-5, cost 11); at 10
  // rank 1 takes task 6 (ends 17), at 11 rank 2 takes task 7 (ends 19).
  const SimResult g = simulate(flat(3, PolicyKind::gss), 8, increasing);
  EXPECT_DOUBLE_EQ(g.makespan, 19.0);
  EXPECT_NEAR(g.efficiency, 36.0 / 38.0, kEps);
  expect_rows(g, {{0, 4, 1, 0, 0, 10}, {4, 6, 2, 0, 0, 11}, {6, 7, 1, 10, 10, 17}, {7, 8, 2, 11, 11, 19}});
}

TEST(SimulatorTest, slow_rank_takes_fewer_tasks) {
  // Rank 2 takes 2.5 s per unit task, rank 1 1 s: rank 1 does tasks 0, 2, 3 and 5 (3 to 4 s);
  // rank 2 does 1 (0 to 2.5 s) and 4 (2.5 to 5 s). Efficiency 6 / (2 * 5).
  SimConfig c = flat(3, PolicyKind::ss);
  c.speed = {1.0, 1.0, 2.5};
  const SimResult r = simulate(c, 6, constant(1.0));
  EXPECT_DOUBLE_EQ(r.makespan, 5.0);
  EXPECT_NEAR(r.efficiency, 6.0 / 10.0, kEps);
  ASSERT_EQ(r.chunk_rows.size(), 6U);
  EXPECT_EQ(r.chunk_rows[4].rank, 2);  // task 4
  EXPECT_EQ(r.chunk_rows[5].rank, 1);  // task 5
}

TEST(SimulatorTest, fixed_prefetch_hides_the_round_trip) {
  // Latency 0.5 s, unit tasks, 2 workers, 8 tasks. Without prefetch every task costs a 1 s round
  // trip: tasks run in [1,2], [3,4], [5,6], [7,8]. With one chunk ahead the first request asks for 2
  // chunks (back at 1 s); each later request leaves when a chunk starts and is back 1 s later,
  // when the chunk ends: [1,2], [2,3], [3,4], [4,5].
  SimConfig c = flat(3, PolicyKind::ss);
  c.latency = 0.5;
  EXPECT_DOUBLE_EQ(simulate(c, 8, constant(1.0)).makespan, 8.0);
  c.prefetch = SimPrefetch::fixed;
  c.prefetch_chunks = 1;
  const SimResult r = simulate(c, 8, constant(1.0));
  EXPECT_DOUBLE_EQ(r.makespan, 5.0);
  std::vector<int> ranks;
  for (const SimChunk& k : r.chunk_rows) {
    ranks.push_back(k.rank);
  }
  EXPECT_EQ(ranks, (std::vector<int>{1, 1, 2, 2, 1, 2, 1, 2}));
}

TEST(SimulatorTest, automatic_prefetch_keeps_one_task_in_flight) {
  // Tasks of 1 ms, latency 0.1 ms, 2 workers, 1000 tasks. Without prefetch: 500 cycles of 1.2 ms.
  // Auto: the first task is timed (0.2 ms wait before it, 0.2 ms after it), then the horizon is
  // 2 * 0.2 + 0.05 = 0.45 ms < 1 task, so each request leaves as a task starts and its answer is
  // there before the task ends: 0.4 ms + 500 ms.
  //
  // A reply that comes while the worker computes is seen after the task, so the measured round trips
  // are 0.2, 0.2, then 1 ms (moving average: 0.2, 0.2, 0.44, 0.608 ms): at 3.4 ms the horizon is
  // 2 * 0.608 + 0.05 = 1.266 ms and the worker asks for 2 chunks (tasks 8 and 9 for rank 1, decided
  // at 3.5 ms).
  SimConfig c = flat(3, PolicyKind::ss);
  c.latency = 1e-4;
  EXPECT_NEAR(simulate(c, 1000, constant(1e-3)).makespan, 0.6, kEps);
  c.prefetch = SimPrefetch::automatic;
  const SimResult r = simulate(c, 1000, constant(1e-3));
  EXPECT_NEAR(r.makespan, 0.5004, kEps);
  ASSERT_EQ(r.chunk_rows.size(), 1000U);
  for (std::size_t i : {4, 5, 6, 7}) {  // one chunk per request until then
    EXPECT_NEAR(r.chunk_rows[i].assigned, i < 6 ? 1.5e-3 : 2.5e-3, kEps) << i;
  }
  for (std::size_t i : {8, 9}) {
    EXPECT_EQ(r.chunk_rows[i].rank, 1);
    EXPECT_NEAR(r.chunk_rows[i].assigned, 3.5e-3, kEps);
  }
  EXPECT_NEAR(r.chunk_rows[9].started, 5.4e-3, kEps);
}

TEST(SimulatorTest, one_reply_holds_at_most_a_factoring_share) {
  // prefetch = 5: each worker's first request asks for 6 chunks of ss, but the master (as
  // farm/master.cpp) stops a reply once it holds ceil(R / 2P) tasks: ceil(8 / 4) = 2 for rank 1,
  // ceil(6 / 4) = 2 for rank 2.
  SimConfig c = flat(3, PolicyKind::ss);
  c.prefetch = SimPrefetch::fixed;
  c.prefetch_chunks = 5;
  const SimResult r = simulate(c, 8, constant(1e-3));
  ASSERT_EQ(r.chunk_rows.size(), 8U);
  std::vector<int> first_four;
  for (std::size_t i = 0; i < 4; ++i) {
    first_four.push_back(r.chunk_rows[i].rank);
  }
  EXPECT_EQ(first_four, (std::vector<int>{1, 1, 2, 2}));
  EXPECT_NEAR(r.makespan, 4e-3, kEps);
}

TEST(SimulatorTest, results_go_out_every_second_of_computing) {
  // One worker, one chunk of 10 tasks of 0.3 s: pieces of one task (a piece ends once it has taken
  // 0.25 s); results leave on their own at 1.2 s and 2.4 s (a second after the last message), the
  // request after the chunk at 3 s is told "no more", then the final message: 5 messages.
  SimConfig c = flat(2, PolicyKind::fsc);
  c.policy.chunk = 10;
  const SimResult r = simulate(c, 10, constant(0.3));
  EXPECT_NEAR(r.makespan, 3.0, kEps);
  EXPECT_EQ(r.master_messages, 5U);
}

TEST(SimulatorTest, reports_reach_the_policy_on_the_next_request) {
  // Chunk reports ride on the worker's next message: the report of task 0 (rank 1) reaches the
  // master with rank 1's request at 1 s, those of tasks 2 and 3 with the requests answered "no more".
  struct Seen {
    int master;
    int worker;
    TaskRange range;
    double compute;
    double time;
  };
  std::vector<Seen> seen;
  SimConfig c = flat(3, PolicyKind::ss);
  c.on_observe = [&](int master, const ChunkReport& r, double t) {
    seen.push_back({master, r.worker, r.range, r.compute_seconds, t});
  };
  (void)simulate(c, 4, constant(1.0));
  ASSERT_EQ(seen.size(), 4U);
  EXPECT_EQ(seen[0].worker, 0);  // rank 1 is the policy's worker 0 when rank 0 does not compute
  EXPECT_EQ(seen[0].range, (TaskRange{0, 1}));
  EXPECT_DOUBLE_EQ(seen[0].compute, 1.0);
  EXPECT_DOUBLE_EQ(seen[0].time, 1.0);
  EXPECT_EQ(seen[3].worker, 1);
  EXPECT_EQ(seen[3].range, (TaskRange{3, 4}));
  EXPECT_DOUBLE_EQ(seen[3].time, 2.0);
}

TEST(SimulatorTest, adaptive_policy_learns_from_simulated_reports) {
  // awf-c (Carino & Banicescu 2008) on 40 unit tasks, rank 1 at speed 1, rank 2 twice as slow. Both
  // start unmeasured with FAC2's first batch: 10 each. From rank 1's report at 10 its chunk is
  // w ceil(R / 4) with w from measured rates, rank 2 counting as the slowest measured (so w = 1):
  // 5 (R = 20), 4 (R = 15), 3 (R = 11). Rank 2 reports 2 s per task at 20: weights 4/3 and 2/3, so
  // rank 2 gets ceil(2 * 2/3) = 2 (R = 8), rank 1 ceil(2 * 4/3) = 3 at 22 (R = 6), rank 2 1 at 24
  // (R = 3), rank 1 ceil(1 * 4/3) = 2 at 25 (R = 2), done at 27.
  SimConfig c = flat(3, PolicyKind::awf_c);
  c.speed = {1.0, 1.0, 2.0};
  const SimResult r = simulate(c, 40, constant(1.0));
  EXPECT_DOUBLE_EQ(r.makespan, 27.0);
  expect_rows(r, {{0, 10, 1, 0, 0, 10},
                  {10, 20, 2, 0, 0, 20},
                  {20, 25, 1, 10, 10, 15},
                  {25, 29, 1, 15, 15, 19},
                  {29, 32, 1, 19, 19, 22},
                  {32, 34, 2, 20, 20, 24},
                  {34, 37, 1, 22, 22, 25},
                  {37, 38, 2, 24, 24, 26},
                  {38, 40, 1, 25, 25, 27}});
}

TEST(SimulatorTest, chunk_sequence_is_the_dispatchers) {
  // fac2 on 100 tasks, 4 computing ranks (rank 0 too), no overheads, equal tasks: everybody asks at
  // the same instants in rank order, so the sizes are FAC2's: ceil(R / 8) for R = 100, 48, 24, 12, 4,
  // four times each: 13 x4, 6 x4, 3 x4, 2 x4, 1 x4 (sum 100).
  SimConfig c = flat(4, PolicyKind::fac2);
  c.master_computes = true;
  const SimResult r = simulate(c, 100, constant(1.0));
  std::vector<TaskIndex> sizes;
  TaskIndex next = 0;
  for (const SimChunk& k : r.chunk_rows) {
    EXPECT_EQ(k.begin, next);
    next = k.end;
    sizes.push_back(k.end - k.begin);
  }
  EXPECT_EQ(next, 100U);
  const std::vector<TaskIndex> expected{13, 13, 13, 13, 6, 6, 6, 6, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1};
  EXPECT_EQ(sizes, expected);
}

TEST(SimulatorTest, two_level_scheduling_as_worked_out_by_hand) {
  // 4 ranks in 2 groups (farm/topology.hpp): group 0 = rank 0 (schedules only) and rank 1, which
  // asks rank 0 directly; group 1 = its group master, rank ceil(4 / 2) = 2, and its member 3.
  // Rank 0: gss over its 2 requesters (rank 1, group master 2), h = 0.1 ms per message; the group
  // master: ss, g = 0.05 ms; tasks of 1 ms.
  //  0     rank 0 takes rank 1's request: ceil(4 / 2) = 2 tasks (0-1), reply at 0.1: [0.1, 2.1]
  //  0.1   rank 0 takes the group master's request (for 1 chunk: 1 member): ceil(2 / 2) = task 2
  //  0.2   the group master takes that reply up; its member has waited since 0: task 2 leaves at
  //        0.25, [0.25, 1.25]; its pool is empty (< 2 * 1 * 1 tasks), so it asks again at 0.25:
  //        task 3 (rank 0 at 0.25), then "no more" (rank 0 at 0.4)
  //  1.25  rank 3 sends its request to the group master, its results not yet (they go to rank 0
  //        in batches: a second after the last, or when it waits or leaves): task 3, [1.3, 2.3].
  //        Makespan 2 + 2h + 2g = 2.3 ms.
  //  2.3   rank 3 asks again, and sends the results of task 3 to rank 0 (a rank that waits never
  //        holds results; task 2's went at 1.25 the same way). Until those are in, rank 0 holds rank
  //        1's second request (2.1) and the group master's third (0.4): a retry could still appear.
  //        Rank 0 (2.3-2.4) takes them up: everything is in, both hear "no more" at 2.4. The group
  //        master (2.4-2.45) tells rank 3 "no more" and sends its final; rank 3 sends its final.
  // Rank 0 has a single computing rank asking it directly, but its policy's 2 workers are the
  // run's 2 computing ranks: no cap for single ranks. It takes up 10 messages: rank 1's 3 (its 2
  // requests, its final), the group master's 3 requests and its final, rank 3's 2 results and its
  // final. The group master takes up 6: rank 3's 3 requests and rank 0's 3 replies. Rank 0 is done
  // at 2.7 ms: rank 1's final (2.4-2.5), the group master's (2.5-2.6), rank 3's (2.6-2.7).
  SimConfig c = flat(4, PolicyKind::ss);
  c.groups = 2;
  c.root_policy.kind = PolicyKind::gss;
  c.service = 0.1e-3;
  c.group_service = 0.05e-3;
  const SimResult r = simulate(c, 4, constant(1e-3));
  EXPECT_NEAR(r.makespan, 2.3e-3, kEps);
  EXPECT_NEAR(r.finished, 2.7e-3, kEps);
  EXPECT_EQ(r.groups, 2);
  EXPECT_EQ(r.group_masters, 1);
  EXPECT_FALSE(r.rank0_computes);
  EXPECT_EQ(r.computing_ranks, 2);
  EXPECT_EQ(r.root_chunks, 2U);
  EXPECT_EQ(r.master_messages, 10U);
  EXPECT_EQ(r.group_messages_max, 6U);
  expect_rows(r, {{0, 2, 1, 0, 0.1, 2.1}, {2, 3, 3, 0.2, 0.25, 1.25}, {3, 4, 3, 1.25, 1.3, 2.3}}, 1e-3);
}

TEST(SimulatorTest, two_level_scheduling_on_a_saturated_rank_0) {
  // 65 ranks, ss, tasks of 100 us, 10 us per message, rank 0 only schedules. Flat: rank 0 decides
  // one task per 10 us, so task 6399 is decided at 63.99 ms, replied at 64 and done at 64.1 ms.
  SimConfig c = flat(65, PolicyKind::ss);
  c.service = 10e-6;
  const SimResult f = simulate(c, 6400, constant(100e-6));
  EXPECT_NEAR(f.makespan, 64.1e-3, 1e-9);
  EXPECT_NEAR(f.master_utilisation, 1.0, 0.01);

  // 8 groups as the farm makes them: group 0 = ranks 0-8, then 7 group masters (ranks 9, 17, ...)
  // with 7 members each: 57 computing ranks, ideal 6400 * 100 us / 57 = 11.2 ms. Rank 0's fac2 runs
  // over 15 requesters, its 8 direct members and 7 group masters alike, and would give rank 1
  // (asking first) ceil(6400 / 30) = 214 tasks, sized for a group; as a single rank it gets at most
  // ceil(6400 / (2 * 57)) = 57.
  c.groups = 8;
  c.prefetch = SimPrefetch::automatic;  // as the farm's ranks: a member that never waits sends results in batches
  std::vector<std::pair<ChunkReport, double>> observed;  // by rank 0's policy, when
  c.on_observe = [&](int master, const ChunkReport& report, double time) {
    if (master == 0) {
      observed.emplace_back(report, time);
    }
  };
  const SimResult h = simulate(c, 6400, constant(100e-6));
  c.on_observe = nullptr;
  EXPECT_EQ(h.computing_ranks, 57);
  ASSERT_FALSE(h.chunk_rows.empty());
  EXPECT_EQ(h.chunk_rows[0].end - h.chunk_rows[0].begin, 57U);
  EXPECT_EQ(h.chunk_rows[0].rank, 1);
  // Members send their results to rank 0, not to their group master: rank 0 files every one of
  // their reports under the group master's number (8..14), after the chunk ended.
  std::map<TaskIndex, double> finished;  // chunk begin -> its end
  std::set<int> members;
  TaskIndex member_tasks = 0;
  for (const SimChunk& k : h.chunk_rows) {
    finished[k.begin] = k.finished;
    if (k.rank >= 9) {
      members.insert(k.rank);
      member_tasks += k.end - k.begin;
    }
  }
  std::size_t member_reports = 0;
  for (const auto& [report, time] : observed) {
    if (report.worker >= 8) {
      ++member_reports;
      EXPECT_GE(time, finished.at(report.range.begin));
    }
  }
  EXPECT_EQ(members.size(), 49U);
  EXPECT_EQ(member_reports, member_tasks);  // ss in the groups: one report per member task
  // So rank 0 is no longer saturated: the hierarchy beats the flat farm by far.
  EXPECT_LT(h.makespan, 0.3 * f.makespan);
  EXPECT_LT(h.master_utilisation, 0.5);

  // Results through the group masters (not the farm's design): rank 0 takes up a few messages per
  // root chunk and is done with the last task.
  c.results_through_group_masters = true;
  const SimResult g = simulate(c, 6400, constant(100e-6));
  std::uint64_t forwarded_chunks = 0;
  for (const SimChunk& k : g.chunk_rows) {
    forwarded_chunks += k.rank >= 9 ? 1 : 0;
  }
  EXPECT_LT(g.master_messages * 10, forwarded_chunks);
  EXPECT_LT(g.finished - g.makespan, 1e-3);
  EXPECT_EQ(g.chunk_rows[0].end - g.chunk_rows[0].begin, 57U);

  // And rank 0 apart (what-if too): ranks 1-64 in 8 groups of a group master and 7 members, 56
  // computing ranks, ideal 11.43 ms; rank 0's fac2 over the 8 group masters gives ceil(6400 / 16) =
  // 400 tasks to the first. A group master gets at most 7 requests per 110 us (< 1 per 10 us), so a
  // member waits at most 7 services per task: makespan <= 6400 / 56 * 170 us = 19.4 ms.
  c.rank0_serves_only_group_masters = true;
  const SimResult a = simulate(c, 6400, constant(100e-6));
  EXPECT_EQ(a.computing_ranks, 56);
  EXPECT_GT(a.makespan, 6400 * 100e-6 / 56);
  EXPECT_LT(a.makespan, 6400.0 / 56 * 170e-6);
  EXPECT_LT(a.finished - a.makespan, 1e-3);
  EXPECT_LT(a.makespan, 0.3 * f.makespan);
}

TEST(SimulatorTest, group_masters_cap_replies_as_rank_0_does) {
  // 4 ranks, 2 groups, rank 0 only schedules: rank 1 asks rank 0 directly, rank 2 is group 1's
  // master, rank 3 its member; 1 us per message everywhere, prefetch = 5 (requests for 6 chunks).
  // Rank 0 (gss over 2 requesters) gives rank 1 ceil(8 / 2) = 4 tasks (its cap, ceil(8 / 4) = 2,
  // ends the reply there; rank 0's 2 workers are the run's 2 computing ranks, so no cap for single
  // ranks), then the group master ceil(4 / 2) = 2 tasks (4-5), which it takes up at 2 us. Rank 3
  // has been waiting since 0 for 6 chunks; the group master (ss) caps the reply at ceil(2 / 2) = 1
  // task beyond the first chunk, which that chunk already reaches: task 4 alone.
  SimConfig c = flat(4, PolicyKind::ss);
  c.groups = 2;
  c.root_policy.kind = PolicyKind::gss;
  c.service = 1e-6;
  c.prefetch = SimPrefetch::fixed;
  c.prefetch_chunks = 5;
  const SimResult r = simulate(c, 8, constant(1e-3));
  std::vector<TaskIndex> tasks;
  for (const SimChunk& k : r.chunk_rows) {
    if (k.rank == 3 && std::abs(k.assigned - 2e-6) < kEps) {
      tasks.push_back(k.begin);
    }
  }
  EXPECT_EQ(tasks, (std::vector<TaskIndex>{4}));
}

TEST(SimulatorTest, single_ranks_asking_rank_0_get_a_share_of_one_rank) {
  // 9 ranks, 2 groups, rank 0 computes: group 0 = ranks 0-4 (rank 0's compute thread and ranks 1-4
  // ask rank 0), group 1 = group master 5 and members 6-8. Rank 0's gss runs over 6 workers (its
  // thread, ranks 1-4, the group master) but the run has 8 computing ranks, so a single rank gets
  // at most ceil(R / 16) tasks, R what rank 0 has not handed out; 1000 tasks of 1 ms, 1 us per
  // message, no latency, no prefetch.
  //  0     the compute thread: gss ceil(1000 / 6) = 167, capped at ceil(1000 / 16) = 63: 0-62
  //  0     rank 1: R = 937, capped at ceil(937 / 16) = 59: 63-121, reply at 1 us
  //  1 us  rank 2: R = 878, ceil(878 / 16) = 55: 122-176
  //  2 us  rank 3: R = 823, ceil(823 / 16) = 52: 177-228
  //  3 us  rank 4: R = 771, ceil(771 / 16) = 49: 229-277
  //  4 us  the group master (for 3 chunks): R = 722, gss ceil(722 / 6) = 121 uncapped (278-398),
  //        and the reply ends there (121 >= ceil(722 / 12) = 61). It takes that up at 5 us and its
  //        members, waiting since 0, get tasks 278, 279 and 280 (ss).
  SimConfig c = flat(9, PolicyKind::ss);
  c.master_computes = true;
  c.groups = 2;
  c.root_policy.kind = PolicyKind::gss;
  c.service = 1e-6;
  const SimResult r = simulate(c, 1000, constant(1e-3));
  EXPECT_EQ(r.computing_ranks, 8);
  const std::vector<Row> expected{{0, 63, 0, 0.0, 0.0, 63.0},          {63, 122, 1, 0.0, 0.001, 59.001},
                                  {122, 177, 2, 0.001, 0.002, 55.002}, {177, 229, 3, 0.002, 0.003, 52.003},
                                  {229, 278, 4, 0.003, 0.004, 49.004}, {278, 279, 6, 0.005, 0.006, 1.006},
                                  {279, 280, 7, 0.005, 0.006, 1.006},  {280, 281, 8, 0.005, 0.006, 1.006}};
  ASSERT_GE(r.chunk_rows.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {  // times in ms
    const SimChunk& k = r.chunk_rows[i];
    EXPECT_EQ(k.begin, expected[i].begin) << i;
    EXPECT_EQ(k.end, expected[i].end) << i;
    EXPECT_EQ(k.rank, expected[i].rank) << i;
    EXPECT_NEAR(k.assigned, expected[i].assigned * 1e-3, kEps) << i;
    EXPECT_NEAR(k.started, expected[i].started * 1e-3, kEps) << i;
    EXPECT_NEAR(k.finished, expected[i].finished * 1e-3, kEps) << i;
  }
}

TEST(SimulatorTest, group_members_send_results_to_rank_0_in_batches) {
  // 4 ranks, 2 groups, rank 0 only schedules (rank 1 asks it directly; group master 2, member 3),
  // 12 tasks of 0.25 s, no service time, no latency, prefetch 1. Rank 0 (gss over 2) gives rank 1
  // tasks 0-5 and the group master 6-8, then 9-10 (at 0.25 s) and 11 (at 0.75 s). Rank 3 computes
  // 6..11 back to back, asking its group master after every task; its results go to rank 0 with a
  // request only once a second has passed since its last results (1.0 s: tasks 6-9), and then with
  // its final message (1.5 s: tasks 10 and 11).
  SimConfig c = flat(4, PolicyKind::ss);
  c.groups = 2;
  c.root_policy.kind = PolicyKind::gss;
  c.prefetch = SimPrefetch::fixed;  // one chunk asked ahead: the member never waits
  c.prefetch_chunks = 1;
  std::vector<std::pair<TaskIndex, double>> at_rank0;  // member chunks rank 0 observed, when
  c.on_observe = [&](int master, const ChunkReport& report, double time) {
    if (master == 0 && report.range.begin >= 6) {
      at_rank0.emplace_back(report.range.begin, time);
    }
  };
  const SimResult r = simulate(c, 12, constant(0.25));
  EXPECT_NEAR(r.makespan, 1.5, kEps);
  // Which tasks go in which batch depends on the order the pool hands them out; when they reach
  // rank 0 does not: four with the request made once a second has passed, two with the final.
  std::map<double, int> per_batch;
  std::set<TaskIndex> tasks;
  for (const auto& [task, time] : at_rank0) {
    ++per_batch[time];
    tasks.insert(task);
  }
  EXPECT_EQ(per_batch, (std::map<double, int>{{1.0, 4}, {1.5, 2}}));
  EXPECT_EQ(tasks, (std::set<TaskIndex>{6, 7, 8, 9, 10, 11}));
}

TEST(SimulatorTest, groups_follow_the_farms_topology) {
  // 9 ranks, 2 groups: group 0 = ranks 0-4, group 1 = group master 5 (ceil(9 / 2)) and 6-8. Rank 0
  // computes, the group master does not: 8 computing ranks, and no chunk for rank 5.
  SimConfig c = flat(9, PolicyKind::fac2);
  c.master_computes = true;
  c.groups = 2;
  c.service = 1e-6;
  c.latency = 1e-6;
  c.prefetch = SimPrefetch::automatic;
  const TaskCost irregular = [](TaskIndex i) { return 1e-3 * static_cast<double>(1 + (i * 7919) % 13); };
  const SimResult r = simulate(c, 5000, irregular);
  EXPECT_EQ(r.computing_ranks, 8);
  TaskIndex covered = 0;
  std::set<int> ranks;
  for (const SimChunk& k : r.chunk_rows) {
    covered += k.end - k.begin;
    ranks.insert(k.rank);
  }
  EXPECT_EQ(covered, 5000U);
  EXPECT_EQ(ranks, (std::set<int>{0, 1, 2, 3, 4, 6, 7, 8}));
  EXPECT_GT(r.efficiency, 0.95);
}

TEST(SimulatorTest, no_tasks_is_an_empty_run) {
  const SimResult r = simulate(flat(4, PolicyKind::gss), 0, constant(1.0));
  EXPECT_EQ(r.makespan, 0.0);
  EXPECT_EQ(r.chunks, 0U);
  EXPECT_EQ(r.efficiency, 1.0);
}

std::string error_of(const SimConfig& c, TaskIndex n, const TaskCost& cost) {
  try {
    (void)simulate(c, n, cost);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(SimulatorTest, impossible_configurations_are_input_errors) {
  SimConfig c = flat(4, PolicyKind::ss);
  c.groups = 3;
  EXPECT_EQ(error_of(c, 10, constant(1.0)),
            "simulate: 3 groups need at least 6 ranks (a group master and a member each), got 4");
  c.groups = 2;
  c.root_policy.kind = PolicyKind::static_block;
  EXPECT_EQ(error_of(c, 10, constant(1.0)),
            "simulate: root policy: expected a policy that needs no per-worker settings (ss, gss, tss, fac2, mfsc, "
            "awf*, af, auto), got \"static\"");
  c.groups = 0;
  c.speed = {1.0, 2.0};
  EXPECT_EQ(error_of(c, 10, constant(1.0)), "simulate: 2 speed factors for 4 ranks");
  c.speed = {};
  EXPECT_EQ(error_of(c, 10, [](TaskIndex i) { return i == 7 ? -1.0 : 1.0; }),
            "simulate: task 7 costs -1 s; expected a finite number >= 0");
  c.ranks = 0;
  EXPECT_EQ(error_of(c, 10, constant(1.0)), "simulate: ranks: expected at least 1, got 0");
}

}  // namespace
}  // namespace taskfarm::schedule

namespace taskfarm::cli {
namespace {

class SimulateCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("taskfarm_sim_" + std::to_string(getpid()) + "_" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    registry_.add(detail::adapt(apps::mandelbrot()));
    registry_.add(detail::adapt(apps::synthetic()));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  /// Runs `taskfarm simulate args...`; returns stdout, or "error: <message>" for an InputError.
  std::string simulate(std::vector<std::string> args) {
    CLI::App app;
    std::function<int()> action;
    add_simulate_command(app, registry_, action);
    args.insert(args.begin(), "simulate");
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);  // CLI11 takes a vector in reverse order
    if (!action) {
      return "no action";
    }
    ::testing::internal::CaptureStdout();
    try {
      EXPECT_EQ(action(), 0);
    } catch (const InputError& e) {
      (void)::testing::internal::GetCapturedStdout();
      return std::string("error: ") + e.what();
    }
    std::fflush(stdout);
    return ::testing::internal::GetCapturedStdout();
  }

  app::Registry registry_;
  std::filesystem::path dir_;
};

TEST_F(SimulateCommandTest, prints_chunks_and_the_prediction_for_a_synthetic_job) {
  const std::string job = write("job.toml", R"([job]
app = "synthetic"
[schedule]
policy = "ss"
master_computes = false
[params]
task = { range = [0, 4] }
[app]
distribution = "constant"
mean_ms = 1000.0
)");
  const std::string out =
      simulate({job, "--ranks", "3", "--service-us", "0", "--latency-us", "0", "--prefetch", "none", "--chunks"});
  EXPECT_EQ(out.substr(0, 5 * 72),
            "       begin          end   rank     assigned      started     finished\n"
            "           0            1      1     0.000000     0.000000     1.000000\n"
            "           1            2      2     0.000000     0.000000     1.000000\n"
            "           2            3      1     1.000000     1.000000     2.000000\n"
            "           3            4      2     1.000000     1.000000     2.000000\n");
  EXPECT_NE(out.find("simulated on 3 ranks (2 computing; rank 0 only schedules)"), std::string::npos) << out;
  EXPECT_NE(out.find("  makespan   2 s (ideal 2 s: the work spread evenly); rank 0 done at 2 s\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("  efficiency 1.0000\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  chunks     4\n"), std::string::npos) << out;
}

TEST_F(SimulateCommandTest, replays_costs_of_an_earlier_output) {
  // A 4-row Mandelbrot job whose earlier run measured 1, 2, 3, 4 ms per row; ss on 2 workers:
  // rank 1 takes rows 0 (0-1 ms) and 2 (1-4 ms), rank 2 rows 1 (0-2 ms) and 3 (2-6 ms).
  const std::string job = write("m.toml", R"([job]
app = "mandelbrot"
[schedule]
policy = "ss"
master_computes = false
[app]
width = 8
height = 4
)");
  const std::string out_h5 = (dir_ / "m.h5").string();
  {
    io::ResultsFile::CreateOptions o;
    o.path = out_h5;
    o.n_tasks = 4;
    o.results = {{"x", ElementType::f64, {}, "", ""}};
    io::ResultsFile f = io::ResultsFile::create(o);
    const std::uint8_t done[] = {1, 1, 1, 1};
    const double seconds[] = {1e-3, 2e-3, 3e-3, 4e-3};
    f.write_tasks(f.state_column(), {0, 4}, done);
    f.write_tasks(f.seconds_column(), {0, 4}, seconds);
  }
  const std::string out = simulate({job, "--ranks", "3", "--service-us", "0", "--latency-us", "0", "--prefetch",
                                    "none", "--costs", out_h5});
  EXPECT_NE(out.find("  makespan   0.006 s"), std::string::npos) << out;
  EXPECT_NE(out.find("  efficiency 0.8333\n"), std::string::npos) << out;

  EXPECT_EQ(simulate({job, "--ranks", "3"}),
            "error: " + job + ": app \"mandelbrot\" has no cost model; pass --costs OUT.h5 (an earlier output of "
                              "this job) to replay its measured task times");
  {
    io::ResultsFile f = io::ResultsFile::open(out_h5, true);
    const std::uint8_t pending[] = {0};
    f.write_tasks(f.state_column(), {2, 3}, pending);
  }
  EXPECT_EQ(simulate({job, "--ranks", "3", "--costs", out_h5}),
            "error: --costs " + out_h5 + ": task 2 was never computed, so its cost is unknown (resume that run first)");
}

TEST_F(SimulateCommandTest, takes_the_masters_service_time_measured_in_an_earlier_run) {
  // An earlier run's rank 0 took up 40 messages in 4 ms: 100 us each. The prediction is the one
  // --service-us 100 gives, and the summary says where the figure came from.
  const std::string job = write("job.toml", R"([job]
app = "synthetic"
[schedule]
policy = "ss"
master_computes = false
[params]
task = { range = [0, 4] }
[app]
distribution = "constant"
mean_ms = 1.0
)");
  const std::string out_h5 = (dir_ / "run.h5").string();
  {
    io::ResultsFile::CreateOptions o;
    o.path = out_h5;
    o.n_tasks = 4;
    io::ResultsFile f = io::ResultsFile::create(o);
    f.set_attribute("master_messages", std::int64_t{40});
    f.set_attribute("master_service_seconds", 4e-3);
  }
  const std::string measured =
      simulate({job, "--ranks", "3", "--service-from", out_h5, "--latency-us", "0", "--prefetch", "none"});
  EXPECT_NE(measured.find("  messages   100 us per message (measured in " + out_h5 + ") at the master"),
            std::string::npos)
      << measured;
  const std::string given =
      simulate({job, "--ranks", "3", "--service-us", "100", "--latency-us", "0", "--prefetch", "none"});
  const auto makespan = [](const std::string& out) { return out.substr(out.find("  makespan"), 40); };
  EXPECT_EQ(makespan(measured), makespan(given));

  const std::string bare = (dir_ / "bare.h5").string();
  {
    io::ResultsFile::CreateOptions o;
    o.path = bare;
    o.n_tasks = 4;
    (void)io::ResultsFile::create(o);
  }
  EXPECT_EQ(simulate({job, "--ranks", "3", "--service-from", bare}),
            "error: " + bare + ": --service-from: no measured master service time in this file (written by taskfarm "
                               "runs since issue 12, for runs whose rank 0 took up messages)");
}

TEST_F(SimulateCommandTest, takes_rank_0s_measured_slowdown_from_an_earlier_synthetic_run) {
  // The earlier run: 4 tasks of 1 ms drawn cost on 2 ranks; rank 0 took 1.5 ms for each of its
  // tasks, rank 1 1 ms: rank 0 computed 1.5x slower. Simulating with it must give what the synthetic
  // app's own slow_ranks = [0], slowdown = 1.5 gives with the same service time.
  const std::string text = R"([job]
app = "synthetic"
[schedule]
policy = "static"
[params]
task = { range = [0, 4] }
[app]
distribution = "constant"
mean_ms = 1.0
)";
  const std::string job = write("job.toml", text);
  // An earlier 2-rank run's output with its job text and a service time of 100 us per message.
  const auto earlier_run = [&](const std::string& name, const std::string& job_spec) {
    const std::string path = (dir_ / name).string();
    io::ResultsFile::CreateOptions o;
    o.path = path;
    o.n_tasks = 4;
    io::ResultsFile f = io::ResultsFile::create(o);
    f.set_attribute("app", std::string("synthetic"));
    f.set_attribute("job_spec", job_spec);
    f.set_attribute("n_ranks", std::int64_t{2});
    f.set_attribute("master_messages", std::int64_t{40});
    f.set_attribute("master_service_seconds", 4e-3);
    return std::pair{path, std::move(f)};
  };
  const std::string out_h5 = (dir_ / "run.h5").string();
  {
    io::ResultsFile f = earlier_run("run.h5", text).second;
    const std::uint8_t done[] = {1, 1, 1, 1};
    const std::int32_t rank[] = {0, 0, 1, 1};
    const double seconds[] = {1.5e-3, 1.5e-3, 1e-3, 1e-3};
    f.write_tasks(f.state_column(), {0, 4}, done);
    f.write_tasks(f.rank_column(), {0, 4}, rank);
    f.write_tasks(f.seconds_column(), {0, 4}, seconds);
  }
  const std::string measured = simulate({job, "--ranks", "2", "--service-from", out_h5, "--latency-us", "0"});
  EXPECT_NE(measured.find("  rank 0     computes 1.5x slower than the others"), std::string::npos) << measured;
  const std::string slow = write("slow.toml", text + "slow_ranks = [0]\nslowdown = 1.5\n");
  const std::string given = simulate({slow, "--ranks", "2", "--service-us", "100", "--latency-us", "0"});
  const auto makespan = [](const std::string& out) { return out.substr(out.find("  makespan"), 40); };
  EXPECT_EQ(makespan(measured), makespan(given));
  // Ranks that outnumber the cores: who was slower was the sharing's doing, which --cores models.
  const std::string shared =
      simulate({job, "--ranks", "2", "--service-from", out_h5, "--latency-us", "0", "--cores", "1"});
  EXPECT_EQ(shared.find("  rank 0     computes"), std::string::npos) << shared;
  // A run whose job no longer reads back (here: not TOML at all; in life, a parameter file moved
  // since) still gives its service time; the slowdown is left out, not an error.
  const std::string unreadable = earlier_run("unreadable.h5", "[job\napp = ").first;  // closed at once
  const std::string partial = simulate({job, "--ranks", "2", "--service-from", unreadable, "--latency-us", "0"});
  EXPECT_NE(partial.find("  messages   100 us per message"), std::string::npos) << partial;
  EXPECT_EQ(partial.find("  rank 0     computes"), std::string::npos) << partial;
}

TEST_F(SimulateCommandTest, bad_input_is_one_line) {
  const std::string job = write("job.toml", "[job]\napp = \"synthetic\"\n[params]\ntask = { range = [0, 10] }\n");
  EXPECT_EQ(simulate({job, "--ranks", "4", "--prefetch", "soon"}),
            "error: --prefetch: expected none, auto or a number of chunks 1..4095, got \"soon\"");
  EXPECT_EQ(simulate({job, "--ranks", "4", "--groups", "2", "--root-policy", "best"}),
            "error: --root-policy: unknown policy \"best\"; expected one of: " +
                std::string(schedule::policy_names_help()));
  EXPECT_EQ(simulate({job, "--ranks", "3", "--groups", "3"}),
            "error: simulate: 3 groups need at least 6 ranks (a group master and a member each), got 3");
  EXPECT_EQ(simulate({(dir_ / "missing.toml").string(), "--ranks", "2"}),
            "error: " + (dir_ / "missing.toml").string() + ": cannot read the job file (No such file or directory)");
  EXPECT_THROW(simulate({job, "--ranks", "0"}), CLI::ValidationError);
}

}  // namespace
}  // namespace taskfarm::cli

namespace taskfarm::schedule {
namespace {

TEST(SimulatorTest, ranks_share_the_cores_while_they_compute) {
  // 4 ranks, rank 0 only schedules, static: one task each for ranks 1-3, costing 1, 1 and 2 s, on
  // 2 cores. All three compute at 2/3 speed until 1.5 s, when the first two end (1 s of work each);
  // rank 3 has 1 s of work left and now a core of its own: it ends at 2.5 s. With a core each: 2 s.
  SimConfig c = flat(4, PolicyKind::static_block);
  const auto cost = [](TaskIndex t) { return t == 2 ? 2.0 : 1.0; };
  EXPECT_NEAR(simulate(c, 3, cost).makespan, 2.0, kEps);
  c.cores = 2;
  const SimResult r = simulate(c, 3, cost);
  EXPECT_NEAR(r.makespan, 2.5, kEps);
  expect_rows(r, {{0, 1, 1, 0, 0, 1.5}, {1, 2, 2, 0, 0, 1.5}, {2, 3, 3, 0, 0, 2.5}});
  c.cores = -1;
  EXPECT_THROW(simulate(c, 3, cost), InputError);
}

TEST(SimulatorTest, a_chunk_queued_behind_a_long_task_is_given_back_to_an_idle_rank) {
  // 2 ranks, rank 0 computes, fac2, prefetch 1; task 25 takes 50 ms, the rest 1 ms. Rank 1's first
  // chunk is 25-49 (rank 0's thread took 0-24); it asks one more chunk ahead, which waits behind
  // the long task. Rank 0 runs out of work long before: the core asks that chunk back, rank 1
  // gives it at its first look at the network, and rank 0 computes it. Every task once.
  SimConfig c = flat(2, PolicyKind::fac2);
  c.master_computes = true;
  c.prefetch = SimPrefetch::fixed;
  c.prefetch_chunks = 1;
  c.latency = 10e-6;
  const SimResult r = simulate(c, 100, [](TaskIndex t) { return t == 25 ? 0.05 : 0.001; });
  EXPECT_GE(r.reclaims, 1U);
  EXPECT_GE(r.given_back, 1U);
  std::vector<int> computed(100, 0);
  for (const SimChunk& k : r.chunk_rows) {
    for (TaskIndex t = k.begin; t < k.end; ++t) {
      ++computed[t];
    }
  }
  EXPECT_EQ(computed, std::vector<int>(100, 1));
  // Total 149 ms on 2 ranks: rank 1 ends its chunk (74 ms of work) at about 74 ms; everything else
  // is rank 0's. Without the reclaim, rank 1 would compute the queued chunk after its long task too.
  EXPECT_LT(r.makespan, 0.080);
  EXPECT_GT(r.efficiency, 0.93);
}

}  // namespace
}  // namespace taskfarm::schedule
