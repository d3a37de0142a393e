// Chunk sequences of every policy against values computed by hand from each paper's rule.
#include <gtest/gtest.h>

#include "taskfarm/schedule/chunk_dispatcher.hpp"

namespace taskfarm::schedule {
namespace {

using Sizes = std::vector<TaskIndex>;

/// Chunk sizes handed out when `p` workers ask in turn until nothing is left.
Sizes sequence(PolicySpec spec, TaskIndex n, int p) {
  ChunkDispatcher d(spec, {{0, n}}, p);
  Sizes out;
  TaskIndex expected_begin = 0;
  for (int w = 0; !d.exhausted(); w = (w + 1) % p) {
    const auto c = d.next(w);
    if (!c) {
      continue;
    }
    EXPECT_EQ(c->begin, expected_begin);  // chunks are contiguous, in order
    expected_begin = c->end;
    out.push_back(c->size());
  }
  EXPECT_EQ(expected_begin, n);
  return out;
}

PolicySpec spec_of(PolicyKind kind, TaskIndex chunk = 0, TaskIndex min_chunk = 1, TaskIndex max_chunk = 0) {
  return PolicySpec{kind, chunk, min_chunk, max_chunk};
}

TEST(StaticPolicyTest, one_block_of_ceil_n_over_p_per_worker) {
  EXPECT_EQ(sequence(spec_of(PolicyKind::static_block), 10, 3), (Sizes{4, 4, 2}));
  ChunkDispatcher d(spec_of(PolicyKind::static_block), {{0, 10}}, 3);
  EXPECT_EQ(d.next(0), (TaskRange{0, 4}));
  EXPECT_EQ(d.next(0), std::nullopt);  // a worker gets its block once
  EXPECT_EQ(d.next(2), (TaskRange{4, 8}));
}

TEST(SelfSchedulingPolicyTest, chunks_of_one) {
  EXPECT_EQ(sequence(spec_of(PolicyKind::ss), 5, 2), (Sizes{1, 1, 1, 1, 1}));
}

TEST(FixedSizePolicyTest, chunks_of_k_and_a_remainder) {
  EXPECT_EQ(sequence(spec_of(PolicyKind::fsc, 3), 10, 2), (Sizes{3, 3, 3, 1}));
}

TEST(GuidedPolicyTest, ceil_remaining_over_p) {
  // N = 100, P = 4: R = 100, 75, 56, 42, 31, 23, 17, 12, 9, 6, 4, 3, 2, 1 -> ceil(R / 4).
  EXPECT_EQ(sequence(spec_of(PolicyKind::gss), 100, 4), (Sizes{25, 19, 14, 11, 8, 6, 5, 3, 3, 2, 1, 1, 1, 1}));
}

TEST(GuidedPolicyTest, chunks_shrink_to_minimum) {
  // Same as above until ceil(R / 4) < 4; then chunks of 4.
  EXPECT_EQ(sequence(spec_of(PolicyKind::gss, 0, 4), 100, 4), (Sizes{25, 19, 14, 11, 8, 6, 5, 4, 4, 4}));
}

TEST(GuidedPolicyTest, chunks_capped_at_maximum) {
  // R = 100..40 step 10 -> capped at 10; R = 30: 8; 22: 6; 16: 4; 12: 3; 9: 3; 6: 2; 4, 3, 2, 1: 1.
  EXPECT_EQ(sequence(spec_of(PolicyKind::gss, 0, 1, 10), 100, 4),
            (Sizes{10, 10, 10, 10, 10, 10, 10, 8, 6, 4, 3, 3, 2, 1, 1, 1, 1}));
}

TEST(FactoringPolicyTest, batches_of_p_chunks_halving_the_rest) {
  // N = 100, P = 4: batch sizes ceil(R / 8) for R = 100, 48, 24, 12, 4.
  EXPECT_EQ(sequence(spec_of(PolicyKind::fac2), 100, 4),
            (Sizes{13, 13, 13, 13, 6, 6, 6, 6, 3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1}));
}

TEST(FactoringPolicyTest, last_batch_clipped_to_what_remains) {
  // N = 10, P = 3: ceil(10 / 6) = 2 x 3 -> R = 4: ceil(4 / 6) = 1 x 3 -> R = 1: 1.
  EXPECT_EQ(sequence(spec_of(PolicyKind::fac2), 10, 3), (Sizes{2, 2, 2, 1, 1, 1, 1}));
}

TEST(ChunkDispatcherTest, chunks_never_span_a_hole_in_pending_tasks) {
  ChunkDispatcher d(spec_of(PolicyKind::fsc, 4), {{0, 3}, {10, 15}}, 2);
  EXPECT_EQ(d.remaining(), 8U);
  EXPECT_EQ(d.next(0), (TaskRange{0, 3}));
  EXPECT_EQ(d.next(1), (TaskRange{10, 14}));
  EXPECT_EQ(d.next(0), (TaskRange{14, 15}));
  EXPECT_EQ(d.next(1), std::nullopt);
  EXPECT_TRUE(d.exhausted());
}

TEST(ChunkDispatcherTest, chunks_of_four_windows_or_more_end_on_a_window) {
  // N = 100003, P = 2, align 1000: FAC2's 25001 ends at 25000, its batch mate at 50000; R = 50003
  // gives 12501 -> ends 62000 and 74000; R = 26003: 6501 -> 80000, 86000; R = 14003: 3501 < 4000
  // is left alone, and so on down (the same rule replayed in Python).
  PolicySpec spec = spec_of(PolicyKind::fac2);
  spec.align = 1000;
  EXPECT_EQ(sequence(spec, 100003, 2), (Sizes{25000, 25000, 12000, 12000, 6000, 6000, 3501, 3501, 1751, 1751, 875, 875,
                                               438, 438, 219, 219, 109, 109, 55, 55, 27, 27, 14, 14, 7, 7, 3, 3, 2,
                                               2, 1}));
}

TEST(ChunkDispatcherTest, empty_pending_list_is_exhausted) {
  ChunkDispatcher d(spec_of(PolicyKind::gss), {}, 2);
  EXPECT_TRUE(d.exhausted());
  EXPECT_EQ(d.next(0), std::nullopt);
}

TEST(PolicyNamesTest, aliases_map_to_canonical_names) {
  EXPECT_EQ(parse_policy_kind("guided"), PolicyKind::gss);
  EXPECT_EQ(parse_policy_kind("factoring"), PolicyKind::fac2);
  EXPECT_EQ(parse_policy_kind("self"), PolicyKind::ss);
  EXPECT_EQ(parse_policy_kind("fixed"), PolicyKind::fsc);
  EXPECT_EQ(parse_policy_kind("nope"), std::nullopt);
  EXPECT_EQ(policy_name(PolicyKind::gss), "gss");
  EXPECT_EQ(policy_name(PolicyKind::static_block), "static");
}

}  // namespace
}  // namespace taskfarm::schedule

namespace taskfarm::schedule {
namespace {

TEST(ChunkDispatcherTest, retries_go_first_and_to_another_worker) {
  ChunkDispatcher d(PolicySpec{PolicyKind::fsc, 4, 1, 0}, {{0, 8}}, 2);
  EXPECT_EQ(d.next(0), (TaskRange{0, 4}));
  d.retry(2, 0);  // task 2 failed on worker 0
  EXPECT_EQ(d.remaining(), 5U);
  EXPECT_EQ(d.next(0), (TaskRange{4, 8}));  // not task 2 again on worker 0
  EXPECT_EQ(d.next(1), (TaskRange{2, 3}));  // worker 1 takes the retry first
  EXPECT_TRUE(d.exhausted());
  d.retry(2, 1);  // failed on both workers now: anyone may take it
  EXPECT_EQ(d.next(1), (TaskRange{2, 3}));
}

}  // namespace
}  // namespace taskfarm::schedule
