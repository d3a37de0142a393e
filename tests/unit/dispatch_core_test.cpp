// The dispatch core driven directly by scripted requests and reports: the decisions the farm's
// master and the simulator both take from it.
#include <gtest/gtest.h>

#include <vector>

#include "taskfarm/schedule/dispatch_core.hpp"
#include "taskfarm/schedule/group_pool.hpp"
#include "taskfarm/schedule/request_pacer.hpp"

namespace taskfarm::schedule {
namespace {

PolicySpec spec_of(PolicyKind kind) {
  PolicySpec s;
  s.kind = kind;
  return s;
}

/// Rank 0 computing (worker 0, takes one chunk at a time) and `remote` ranks asking it directly.
Requesters flat(int remote) {
  Requesters who;
  who.workers = remote + 1;
  who.computing = remote + 1;
  who.single.assign(static_cast<std::size_t>(remote + 1), true);
  who.reclaimable.assign(static_cast<std::size_t>(remote + 1), true);
  who.reclaimable[0] = false;
  return who;
}

constexpr std::uint8_t kDone = 1;
constexpr std::uint8_t kFailed = 2;

/// `out` gets the parts of `piece` to drop; every task in it succeeded.
void dup(DispatchCore& core, TaskRange piece, std::vector<TaskRange>& out) {
  const std::vector<std::uint8_t> state(piece.size(), kDone);
  core.duplicates(piece, state, kDone, out);
}

ChunkReport done(int worker, TaskRange r) { return {worker, r, 0.001 * static_cast<double>(r.size()), 0.001, 0.0}; }

std::vector<TaskRange> ask(DispatchCore& core, int worker, std::uint32_t want) {
  std::vector<TaskRange> out;
  core.reply(worker, want, out);
  return out;
}

TEST(DispatchCoreTest, a_reply_holds_at_most_a_factoring_share_beyond_its_first_chunk) {
  // ss on 100 tasks, 2 workers: a worker asking for 4096 chunks of 1 gets chunks until they hold
  // ceil(R / 2P) = ceil(100 / 4) = 25 tasks.
  DispatchCore core(spec_of(PolicyKind::ss), {{0, 100}}, flat(1));
  EXPECT_EQ(ask(core, 1, 4096).size(), 25U);
  EXPECT_EQ(core.held(1), 25U);
  EXPECT_EQ(core.remaining(), 75U);
  // The first chunk goes out whatever its size: gss's ceil(75 / 2) = 38 is over the share of 19.
  DispatchCore guided(spec_of(PolicyKind::gss), {{0, 75}}, flat(1));
  EXPECT_EQ(ask(guided, 1, 4096), (std::vector<TaskRange>{{0, 38}}));
}

TEST(DispatchCoreTest, finished_only_when_every_handed_out_task_is_reported) {
  DispatchCore core(spec_of(PolicyKind::fsc), {{0, 10}}, flat(1));
  const auto a = ask(core, 1, 100);
  const auto b = ask(core, 0, 1);
  EXPECT_EQ(core.remaining(), 0U);
  EXPECT_FALSE(core.finished());
  for (TaskRange r : a) {
    core.report(done(1, r));
  }
  EXPECT_FALSE(core.finished());  // rank 0's own chunk is still out: a retry could still appear
  core.report(done(0, b.front()));
  EXPECT_TRUE(core.finished());
  EXPECT_EQ(core.held(0) + core.held(1), 0U);
}

TEST(DispatchCoreTest, a_queued_chunk_is_asked_back_when_a_requester_would_idle_and_goes_out_again) {
  // fac2, 100 tasks, rank 0's thread (worker 0) and one remote rank (worker 1). Worker 1 asks twice
  // (prefetch): ceil(100/4) = 25 tasks twice (one batch). Worker 0 takes the rest, one chunk at a time.
  DispatchCore core(spec_of(PolicyKind::fac2), {{0, 100}}, flat(1));
  EXPECT_EQ(ask(core, 1, 1), (std::vector<TaskRange>{{0, 25}}));
  EXPECT_EQ(ask(core, 1, 1), (std::vector<TaskRange>{{25, 50}}));
  EXPECT_FALSE(core.reclaim());  // tasks remain to hand out: nobody is short of work
  while (!ask(core, 0, 1).empty()) {
  }
  EXPECT_EQ(core.remaining(), 0U);
  // Worker 0 would idle: the core asks back worker 1's queued chunk, never the front one (started).
  const auto r = core.reclaim();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->worker, 1);
  EXPECT_EQ(r->range, (TaskRange{25, 50}));
  EXPECT_FALSE(core.reclaim());  // one question at a time per worker
  core.reclaimed(1, r->range, true);
  EXPECT_EQ(core.remaining(), 25U);
  EXPECT_EQ(core.held(1), 25U);
  EXPECT_EQ(core.chunks_given_back(), 1U);
  // It goes out again first, sized by the policy: fac2 splits the 25 tasks, ceil(25 / 4) = 7.
  const auto again = ask(core, 0, 1);
  ASSERT_EQ(again.size(), 1U);
  EXPECT_EQ(again.front(), (TaskRange{25, 32}));
}

TEST(DispatchCoreTest, a_chunk_the_worker_has_started_is_never_asked_for_again) {
  DispatchCore core(spec_of(PolicyKind::ss), {{0, 40}}, flat(1));
  ASSERT_EQ(ask(core, 1, 8).size(), 8U);
  while (!ask(core, 0, 1).empty()) {
  }
  const auto first = core.reclaim();
  ASSERT_TRUE(first);
  core.reclaimed(1, first->range, false);  // it had started it
  const auto second = core.reclaim();
  ASSERT_TRUE(second);
  EXPECT_NE(second->range, first->range);
  EXPECT_EQ(core.chunks_given_back(), 0U);
}

TEST(DispatchCoreTest, static_scheduling_never_reclaims) {
  // A static worker gets nothing once its block is out: a block given back could never go out again.
  DispatchCore core(spec_of(PolicyKind::static_block), {{0, 10}}, flat(1));
  ask(core, 1, 2);
  ask(core, 0, 2);
  EXPECT_FALSE(core.reclaim());
}

TEST(DispatchCoreTest, under_groups_a_single_rank_gets_a_share_of_one_rank) {
  // Rank 0's policy has 2 workers (rank 0's thread, one group master) but the run computes on 5
  // ranks: gss would give ceil(100 / 2) = 50 to a single rank; the cap is ceil(100 / 10) = 10.
  Requesters who;
  who.workers = 2;
  who.computing = 5;
  who.single = {true, false};
  who.reclaimable = {false, false};
  DispatchCore core(spec_of(PolicyKind::gss), {{0, 100}}, who);
  EXPECT_EQ(ask(core, 0, 1).front().size(), 10U);
  EXPECT_EQ(ask(core, 1, 1).front().size(), 45U);  // a group master: gss's ceil(90 / 2)
}

TEST(DispatchCoreTest, root_spec_keeps_the_jobs_lower_bound_under_groups) {
  PolicySpec job = spec_of(PolicyKind::af);
  job.min_chunk = 7;
  job.max_chunk = 9;
  const PolicySpec root = spec_of(PolicyKind::fac2);
  EXPECT_EQ(DispatchCore::root_spec(job, root, true).kind, PolicyKind::af);
  const PolicySpec grouped = DispatchCore::root_spec(job, root, false);
  EXPECT_EQ(grouped.kind, PolicyKind::fac2);
  EXPECT_EQ(grouped.min_chunk, 7U);
  EXPECT_EQ(grouped.max_chunk, 0U);
  EXPECT_EQ(grouped.align, 0U);
  // The output's write window goes to whichever policy rank 0 runs, flat or grouped.
  EXPECT_EQ(DispatchCore::root_spec(job, root, true, 131072).align, 131072U);
  EXPECT_EQ(DispatchCore::root_spec(job, root, false, 131072).align, 131072U);
}

TEST(DispatchCoreTest, a_stragglers_unreceived_tail_is_copied_to_an_idle_worker_and_the_first_result_wins) {
  // fsc chunks of 10 on 20 tasks, rank 0's thread (0) and two remote ranks (1, 2), speculation on.
  PolicySpec spec = spec_of(PolicyKind::fsc);
  spec.chunk = 10;
  DispatchCore core(spec, {{0, 20}}, flat(2));
  EXPECT_FALSE(core.speculate(2, 100.0));  // off by default
  core.enable_speculation();
  EXPECT_EQ(ask(core, 1, 1), (std::vector<TaskRange>{{0, 10}}));  // at time 0
  std::vector<TaskRange> second;
  core.reply(2, 1, second, 0.0);
  EXPECT_EQ(second, (std::vector<TaskRange>{{10, 20}}));
  // Worker 2 is done in 10 ms (1 ms a task); worker 1 sent the results of 0-3, then nothing.
  std::vector<TaskRange> dups;
  core.received(2, {10, 20});
  dup(core, {10, 20}, dups);
  core.report(done(2, {10, 20}));
  core.received(1, {0, 4});
  dup(core, {0, 4}, dups);
  EXPECT_TRUE(dups.empty());
  // Expected for 10 tasks at 1 ms: 3 x 10 ms + 0.5 s. At 0.5 s worker 1 is not late yet; at 1 s it is.
  EXPECT_FALSE(core.speculate(2, 0.5));
  const auto tail = core.speculate(2, 1.0);
  ASSERT_TRUE(tail);
  EXPECT_EQ(*tail, (TaskRange{4, 10}));  // only what has not come in
  EXPECT_FALSE(core.speculate(0, 1.0));  // one copy of a chunk
  // Worker 1 wakes up and sends 4-5 first: those are its; the copy's 4-9 then count only 6-9.
  dup(core, {4, 6}, dups);
  EXPECT_TRUE(dups.empty());
  dup(core, {4, 10}, dups);
  EXPECT_EQ(dups, (std::vector<TaskRange>{{4, 6}}));
  dups.clear();
  EXPECT_FALSE(core.finished());
  EXPECT_TRUE(core.report(done(2, {4, 10})));  // the copy ends first: worker 1's chunk is complete
  EXPECT_TRUE(core.finished());
  EXPECT_EQ(core.take_superseded(), std::vector<int>{1});
  EXPECT_EQ(core.copies(), 1U);
  dup(core, {6, 10}, dups);  // the straggler's late results are dropped
  EXPECT_EQ(dups, (std::vector<TaskRange>{{6, 10}}));
  EXPECT_FALSE(core.report(done(1, {0, 10})));
  EXPECT_TRUE(core.finished());
}

TEST(DispatchCoreTest, a_failure_inside_a_copied_tail_claims_nothing_and_its_retry_is_accounted_alone) {
  PolicySpec spec = spec_of(PolicyKind::fsc);
  spec.chunk = 10;
  DispatchCore core(spec, {{0, 20}}, flat(2));
  core.enable_speculation();
  ask(core, 1, 1);  // 0-9, then stalls
  ask(core, 2, 1);  // 10-19
  core.report(done(2, {10, 20}));
  ASSERT_EQ(core.speculate(2, 5.0), (std::optional<TaskRange>{TaskRange{0, 10}}));
  // The copy fails task 3: nothing dropped, nothing claimed; the task is retried (on worker 1's
  // list, as the dispatcher routes it away from worker 2).
  std::vector<TaskRange> dups;
  std::vector<std::uint8_t> state(10, kDone);
  state[3] = kFailed;
  core.duplicates({0, 10}, state, kDone, dups);
  EXPECT_TRUE(dups.empty());
  core.retry(3, 2);
  EXPECT_TRUE(core.report(done(2, {0, 10})));  // the copy's chunk: worker 1's is complete but for the retry
  EXPECT_FALSE(core.finished());
  const auto retry = ask(core, 1, 1);
  ASSERT_EQ(retry, (std::vector<TaskRange>{{3, 4}}));
  // Worker 1 wakes up and reports its old chunk 0-9: not charged to the retry it also holds.
  core.report(done(1, {0, 10}));
  EXPECT_FALSE(core.finished());
  EXPECT_EQ(core.held(1), 1U);
  // The retry's result is the first success for task 3: kept; the old chunk's task 3 is not.
  core.duplicates({3, 4}, std::vector<std::uint8_t>{kDone}, kDone, dups);
  EXPECT_TRUE(dups.empty());
  core.report(done(1, {3, 4}));
  EXPECT_TRUE(core.finished());
  dup(core, {0, 10}, dups);
  EXPECT_EQ(dups, (std::vector<TaskRange>{{0, 10}}));
}

TEST(DispatchCoreTest, when_the_straggler_finishes_first_the_copy_is_dropped) {
  PolicySpec spec = spec_of(PolicyKind::fsc);
  spec.chunk = 10;
  DispatchCore core(spec, {{0, 20}}, flat(2));
  core.enable_speculation();
  ask(core, 1, 1);
  ask(core, 2, 1);
  core.report(done(2, {10, 20}));
  ASSERT_TRUE(core.speculate(2, 5.0));
  core.report(done(1, {0, 10}));
  EXPECT_TRUE(core.finished());
  EXPECT_TRUE(core.take_superseded().empty());
  EXPECT_TRUE(core.report(done(2, {0, 10})));  // the copy's report: still marked a copy, nothing held
  EXPECT_EQ(core.held(2), 0U);
}

TEST(GroupPoolTest, splits_root_chunks_oldest_first_and_asks_again_when_two_rounds_are_left) {
  GroupPool pool(spec_of(PolicyKind::ss), 2);
  EXPECT_TRUE(pool.wants_more());
  pool.add({0, 3});
  pool.add({10, 12});
  EXPECT_FALSE(pool.wants_more());  // 5 tasks >= 2 members * 2 rounds * 1
  std::vector<TaskRange> out;
  pool.reply(0, 3, out);
  // Sub-chunks until the reply holds ceil(5 / 4) = 2 tasks, the oldest root chunk first.
  EXPECT_EQ(out, (std::vector<TaskRange>{{0, 1}, {1, 2}}));
  out.clear();
  pool.reply(1, 4, out);
  EXPECT_EQ(out, (std::vector<TaskRange>{{2, 3}}));  // ceil(3 / 4) = 1 task; the exhausted chunk leaves
  EXPECT_EQ(pool.tasks(), 2U);
  EXPECT_TRUE(pool.wants_more());  // 2 tasks < 2 members * 2 rounds * 1
  EXPECT_EQ(pool.root_want(), 2U);
}

TEST(RequestPacerTest, automatic_prefetch_times_one_task_then_asks_two_round_trips_ahead) {
  RequestPacer pacer(PrefetchMode::automatic, 0);
  EXPECT_EQ(pacer.first_want(), 1U);
  // Untimed: a piece of one task.
  EXPECT_EQ(pacer.before_piece(0, 100, 100, 0).stop, 1U);
  EXPECT_EQ(pacer.before_piece(0, 100, 100, 0).ask, 0U);
  pacer.computed(0.001, 1);  // 1 ms a task
  pacer.replied(0.002);      // 2 ms round trips: horizon 4.05 ms = 5 tasks (rounded up)
  pacer.received(10);
  // 100 tasks queued: compute up to the trigger (100 - 5 - 1 = 94 tasks), then ask.
  const auto far = pacer.before_piece(0, 100, 100, 0);
  EXPECT_EQ(far.ask, 0U);
  EXPECT_EQ(far.stop, 94U);
  const auto near = pacer.before_piece(94, 100, 6, 0);
  EXPECT_EQ(near.ask, 1U);  // ceil(4.05 ms / (10 tasks * 1 ms)) = 1 chunk
  EXPECT_EQ(near.stop, 100U);
}

TEST(RequestPacerTest, fixed_prefetch_keeps_d_chunks_asked_ahead_and_pieces_shrink_while_one_is_queued) {
  RequestPacer pacer(PrefetchMode::fixed, 2);
  EXPECT_EQ(pacer.first_want(), 3U);
  EXPECT_EQ(pacer.before_piece(0, 10, 10, 0).ask, 2U);
  EXPECT_EQ(pacer.before_piece(0, 10, 10, 1).ask, 1U);
  EXPECT_EQ(pacer.before_piece(0, 10, 10, 2).ask, 0U);
  // A worker holding a queued chunk looks at the network often: it may be asked to give it back.
  EXPECT_LT(RequestPacer::piece_seconds(1, false), RequestPacer::piece_seconds(0, false));
  EXPECT_LT(RequestPacer::piece_seconds(0, true), RequestPacer::piece_seconds(0, false));
}

}  // namespace
}  // namespace taskfarm::schedule
