// The dynamic loop-scheduling family beyond fac2: chunk sequences against values computed by hand
// from each paper's rule (the arithmetic is in the comments), and the adaptive policies against
// reported timings chosen to make that arithmetic short.
#include <gtest/gtest.h>

#include <cmath>

#include "taskfarm/core/error.hpp"
#include "taskfarm/schedule/adaptive_policy.hpp"
#include "taskfarm/schedule/auto_policy.hpp"
#include "taskfarm/schedule/chunk_dispatcher.hpp"
#include "taskfarm/schedule/factoring.hpp"

namespace taskfarm::schedule {
namespace {

using Sizes = std::vector<TaskIndex>;

PolicySpec spec_of(PolicyKind kind) {
  PolicySpec spec;
  spec.kind = kind;
  return spec;
}

/// Chunk sizes handed out when `p` workers ask in turn, without reports, until nothing is left.
Sizes sequence(const PolicySpec& spec, TaskIndex n, int p) {
  ChunkDispatcher d(spec, {{0, n}}, p);
  Sizes out;
  for (int w = 0; !d.exhausted(); w = (w + 1) % p) {
    if (const auto c = d.next(w)) {
      out.push_back(c->size());
    }
  }
  return out;
}

/// A report of `tasks` tasks of `mean` seconds each (sample variance `variance`).
ChunkReport report(int worker, TaskIndex tasks, double mean, double variance = 0.0, double overhead = 0.0) {
  return ChunkReport{worker, TaskRange{0, tasks}, mean * static_cast<double>(tasks), mean, variance, overhead};
}

// ---- tss -------------------------------------------------------------------------------------------

TEST(TrapezoidPolicyTest, chunks_fall_linearly_from_n_over_2p_to_1) {
  // N = 100, P = 4: F = ceil(100/8) = 13, L = 1, n = ceil(200/14) = 15 chunks, delta = 12/14.
  // Chunk k = 13 - floor(12k/14): k=0..9 -> 13, 13, 12, 11, 10, 9, 8, 7, 7, 6 (sum 96); k=10: 8 -> 4 left.
  EXPECT_EQ(sequence(spec_of(PolicyKind::tss), 100, 4), (Sizes{13, 13, 12, 11, 10, 9, 8, 7, 7, 6, 4}));
}

TEST(TrapezoidPolicyTest, first_and_last_are_options) {
  // F = 20, L = 4: n = ceil(200/24) = 9, delta = 16/8 = 2: 20, 18, 16, 14, 12, 10, 8 (sum 98), then 2 left.
  PolicySpec spec = spec_of(PolicyKind::tss);
  spec.first = 20;
  spec.last = 4;
  EXPECT_EQ(sequence(spec, 100, 4), (Sizes{20, 18, 16, 14, 12, 10, 8, 2}));
}

TEST(TrapezoidPolicyTest, tiny_job_does_not_divide_by_zero) {
  // N = 1, P = 4: F = 1, L = 1, n = 1: one chunk.
  EXPECT_EQ(sequence(spec_of(PolicyKind::tss), 1, 4), (Sizes{1}));
}

// ---- fsc (Kruskal & Weiss) and mfsc -----------------------------------------------------------------

TEST(FixedSizePolicyTest, kruskal_weiss_optimal_chunk_from_overhead_and_sigma) {
  // N = 1000, P = 4, h = 100 us, sigma = 1 ms: sqrt(2) * 1000 * 1e-4 = 0.141421;
  // sigma P sqrt(ln 4) = 1e-3 * 4 * 1.177410 = 0.00470964; ratio 30.0281; 30.0281^(2/3) = 9.661 -> 10.
  PolicySpec spec = spec_of(PolicyKind::fsc);
  spec.overhead_seconds = 100e-6;
  spec.sigma_seconds = 1e-3;
  EXPECT_EQ(sequence(spec, 1000, 4), Sizes(100, 10));
  spec.chunk = 7;  // an explicit chunk wins
  EXPECT_EQ(make_policy(spec, 1000, 4)->next_size(1000, 0), 7U);
}

TEST(FixedSizePolicyTest, kruskal_weiss_limits) {
  PolicySpec spec = spec_of(PolicyKind::fsc);
  spec.overhead_seconds = 1.0;  // overhead dwarfs the variance: k -> inf, capped at ceil(N/P) = 250
  spec.sigma_seconds = 1e-6;
  EXPECT_EQ(make_policy(spec, 1000, 4)->next_size(1000, 0), 250U);
  EXPECT_EQ(make_policy(spec, 1000, 1)->next_size(1000, 0), 1000U);  // ln 1 = 0: one worker, one chunk
}

TEST(ModifiedFixedSizePolicyTest, as_many_chunks_as_fac2) {
  // N = 100, P = 4: FAC2 hands out 13x4, 6x4, 3x4, 2x4, 1x4 = 20 chunks -> k = 100/20 = 5.
  // (DLS4LB's closed form: 25 ln 2 / ln 25 = 5.38, rounded to 5 as well.)
  EXPECT_EQ(sequence(spec_of(PolicyKind::mfsc), 100, 4), Sizes(20, 5));
  // N = 10, P = 3: FAC2 hands out 2, 2, 2, 1, 1, 1, 1 = 7 chunks -> k = ceil(10/7) = 2.
  EXPECT_EQ(sequence(spec_of(PolicyKind::mfsc), 10, 3), (Sizes{2, 2, 2, 2, 2}));
}

// ---- wf ----------------------------------------------------------------------------------------------

TEST(WeightedFactoringPolicyTest, equal_weights_are_fac2) {
  PolicySpec spec = spec_of(PolicyKind::wf);
  spec.weights = {2.0, 2.0, 2.0, 2.0};
  EXPECT_EQ(sequence(spec, 100, 4), sequence(spec_of(PolicyKind::fac2), 100, 4));
  EXPECT_EQ(sequence(spec_of(PolicyKind::wf), 100, 4), sequence(spec_of(PolicyKind::fac2), 100, 4));
}

TEST(WeightedFactoringPolicyTest, chunks_proportional_to_weights) {
  // P = 2, weights [1, 3] -> scaled to sum 2: 0.5, 1.5. Batch j: base ceil(R_j / 4), chunk ceil(w base).
  // R=100: base 25 -> 12.5 -> 13, 37.5 -> 38; R=49: 13 -> 7, 20; R=22: 6 -> 3, 9; R=10: 3 -> 2, 5;
  // R=3: 1 -> 1, 2.
  PolicySpec spec = spec_of(PolicyKind::wf);
  spec.weights = {1.0, 3.0};
  EXPECT_EQ(sequence(spec, 100, 2), (Sizes{13, 38, 7, 20, 3, 9, 2, 5, 1, 2}));
}

TEST(WeightedFactoringPolicyTest, weights_must_match_the_workers) {
  PolicySpec spec = spec_of(PolicyKind::wf);
  spec.weights = {1.0, 3.0, 1.0};
  EXPECT_THROW((void)make_policy(spec, 100, 2), InputError);
}

// ---- awf family --------------------------------------------------------------------------------------

TEST(AdaptiveWeightedFactoringTest, twice_slower_worker_gets_half) {
  // Reports: worker 0 did 10 tasks in 1 s, worker 1 in 2 s -> rates 10, 5 -> weights 4/3, 2/3.
  // At R = 60: base ceil(60/4) = 15 -> 20 and 10.
  for (PolicyKind kind : {PolicyKind::awf_b, PolicyKind::awf_c, PolicyKind::awf_d, PolicyKind::awf_e}) {
    auto policy = make_policy(spec_of(kind), 100, 2);
    policy->observe(report(0, 10, 0.1));
    policy->observe(report(1, 10, 0.2));
    EXPECT_EQ(policy->next_size(60, 0), 20U) << policy_name(kind);
    EXPECT_EQ(policy->next_size(60, 1), 10U) << policy_name(kind);
  }
}

TEST(AdaptiveWeightedFactoringTest, later_chunks_weigh_more) {
  // Worker 0: chunk 1 = 10 tasks in 1 s, chunk 2 = 10 tasks in 0.4 s: (1*1 + 2*0.4) / (1*10 + 2*10)
  // = 0.06 s/task (a plain mean would say 0.07). Worker 1: 10 tasks in 1.2 s = 0.12 s/task.
  // Rates 2:1 -> weights 4/3, 2/3 -> at R = 60 (base 15): 20 and 10.
  auto policy = make_policy(spec_of(PolicyKind::awf_c), 100, 2);
  policy->observe(report(0, 10, 0.1));
  policy->observe(report(0, 10, 0.04));
  policy->observe(report(1, 10, 0.12));
  EXPECT_EQ(policy->next_size(60, 0), 20U);
  EXPECT_EQ(policy->next_size(60, 1), 10U);
}

TEST(AdaptiveWeightedFactoringTest, d_and_e_count_scheduling_overhead) {
  // Worker 0: 10 tasks, 0.5 s computing + 0.5 s waiting; worker 1: 10 tasks, 1 s computing.
  // awf-c: 0.05 vs 0.1 s/task -> 4/3, 2/3 -> 20 at R = 60; awf-e: 0.1 vs 0.1 -> equal -> 15.
  for (auto [kind, expected] : {std::pair{PolicyKind::awf_c, 20U}, std::pair{PolicyKind::awf_e, 15U}}) {
    auto policy = make_policy(spec_of(kind), 100, 2);
    policy->observe(report(0, 10, 0.05, 0.0, 0.5));
    policy->observe(report(1, 10, 0.1));
    EXPECT_EQ(policy->next_size(60, 0), expected) << policy_name(kind);
  }
}

/// Drives a dispatcher through: both workers get a first chunk, worker 0 reports (25 tasks, 0.01 s
/// each), worker 0 asks, worker 1 reports (25 tasks, 0.02 s each), worker 1 asks, worker 0 asks.
Sizes awf_script(PolicyKind kind) {
  ChunkDispatcher d(spec_of(kind), {{0, 100}}, 2);
  Sizes out;
  out.push_back(d.next(0)->size());
  out.push_back(d.next(1)->size());
  d.observe(report(0, 25, 0.01));
  out.push_back(d.next(0)->size());
  d.observe(report(1, 25, 0.02));
  out.push_back(d.next(1)->size());
  out.push_back(d.next(0)->size());
  return out;
}

TEST(AdaptiveWeightedFactoringTest, exact_sequences_for_given_timings) {
  // Before a report each worker gets FAC2's first batch: ceil(100/4) = 25, 25 (R = 50).
  // Worker 0 then asks with only itself measured; worker 1 counts as the slowest measured one,
  // i.e. as fast as worker 0: equal weights. Batch 1 opens at R = 50: base ceil(50/4) = 13 -> 13 (R = 37).
  // awf:   weights frozen for batch 1 -> worker 1 gets 13 (R = 24); batch 2 opens at R = 24, base 6,
  //        weights now 4/3, 2/3 -> worker 0 gets 8.
  // awf-b: worker 1's weight is 2/3 now: 13 * 2/3 = 8.67 -> 9 (R = 28); batch 2 at R = 28, base 7:
  //        7 * 4/3 = 9.33 -> 10.
  // awf-c: base ceil(R/4) at each request: R = 50 -> 13; R = 37 -> 10 * 2/3 = 6.67 -> 7;
  //        R = 30 -> 8 * 4/3 = 10.67 -> 11.
  EXPECT_EQ(awf_script(PolicyKind::awf), (Sizes{25, 25, 13, 13, 8}));
  EXPECT_EQ(awf_script(PolicyKind::awf_b), (Sizes{25, 25, 13, 9, 10}));
  EXPECT_EQ(awf_script(PolicyKind::awf_c), (Sizes{25, 25, 13, 7, 11}));
}

TEST(AdaptiveWeightedFactoringTest, initial_weights_before_reports) {
  // Configured weights [1, 3] act as WF until a worker reports: base 25 -> 13 and 38.
  PolicySpec spec = spec_of(PolicyKind::awf_b);
  spec.weights = {1.0, 3.0};
  EXPECT_EQ(sequence(spec, 100, 2).front(), 13U);
  EXPECT_EQ(sequence(spec, 100, 2)[1], 38U);
}

// ---- af ------------------------------------------------------------------------------------------------

TEST(TaskTimesTest, pools_chunks_exactly) {
  // Tasks {1, 1} and {3, 3}: together mean 2, sample variance (1 + 1 + 1 + 1) / 3 = 4/3.
  TaskTimes t;
  t.add(2, 1.0, 0.0);
  t.add(2, 3.0, 0.0);
  EXPECT_EQ(t.count(), 4U);
  EXPECT_DOUBLE_EQ(t.mean(), 2.0);
  EXPECT_DOUBLE_EQ(t.variance(), 4.0 / 3.0);
}

TEST(AdaptiveFactoringPolicyTest, banicescu_liu_chunk_by_hand) {
  // mu = 0.01, 0.02; sigma^2 = 0.0025, 0.01. D = 0.0025/0.01 + 0.01/0.02 = 0.75; T = 1/(100 + 50) = 1/150.
  // R = 50: TR = 1/3; D + 2TR = 1.41667; sqrt(D^2 + 4DTR) = sqrt(0.5625 + 1) = 1.25; difference 1/6.
  // Worker 0: (1/6) / (2 * 0.01) = 8.33 -> 9; worker 1 (twice slower): (1/6) / 0.04 = 4.17 -> 5.
  auto policy = make_policy(spec_of(PolicyKind::af), 100, 2);
  policy->observe(report(0, 25, 0.01, 0.0025));
  policy->observe(report(1, 25, 0.02, 0.01));
  EXPECT_EQ(policy->next_size(50, 0), 9U);
  EXPECT_EQ(policy->next_size(50, 1), 5U);
}

TEST(AdaptiveFactoringPolicyTest, exact_sequence_for_given_timings) {
  // First batch FAC2: 25, 25. Then with the timings above, workers alternating:
  // R = 50, worker 0: 8.33 -> 9. R = 41, worker 1: TR = 0.27333, D + 2TR = 1.29667,
  // sqrt(0.5625 + 3 * 0.27333) = 1.17580, (1.29667 - 1.17580) / 0.04 = 3.02 -> 4.
  // R = 37, worker 0: TR = 0.24667, 1.24333 - sqrt(0.5625 + 0.74) = 0.10206, / 0.02 = 5.10 -> 6.
  // R = 31, worker 1: TR = 0.20667, 1.16333 - sqrt(0.5625 + 0.62) = 0.07590, / 0.04 = 1.90 -> 2.
  ChunkDispatcher d(spec_of(PolicyKind::af), {{0, 100}}, 2);
  Sizes out{d.next(0)->size(), d.next(1)->size()};
  d.observe(report(0, 25, 0.01, 0.0025));
  d.observe(report(1, 25, 0.02, 0.01));
  for (int w : {0, 1, 0, 1}) {
    out.push_back(d.next(w)->size());
  }
  EXPECT_EQ(out, (Sizes{25, 25, 9, 4, 6, 2}));
}

TEST(AdaptiveFactoringPolicyTest, unmeasured_workers_count_as_the_slowest) {
  // Worker 2 has not reported: it counts as worker 1 (mu 0.02, sigma^2 0.01).
  // D = 0.25 + 0.5 + 0.5 = 1.25; T = 1/200; R = 50: TR = 0.25; 1.75 - sqrt(1.5625 + 1.25) = 0.07295;
  // worker 0: 0.07295 / 0.02 = 3.65 -> 4.
  auto policy = make_policy(spec_of(PolicyKind::af), 100, 3);
  policy->observe(report(0, 25, 0.01, 0.0025));
  policy->observe(report(1, 25, 0.02, 0.01));
  EXPECT_EQ(policy->next_size(50, 0), 4U);
}

TEST(AdaptiveFactoringPolicyTest, regular_work_is_capped_at_fac2s_first_chunk) {
  // No variance: D = 0 and AF's chunk is worker 0's share of everything, T R / mu = R / 2 = 40;
  // capped at ceil(100/4) = 25.
  auto policy = make_policy(spec_of(PolicyKind::af), 100, 2);
  policy->observe(report(0, 10, 0.01));
  policy->observe(report(1, 10, 0.01));
  EXPECT_EQ(policy->next_size(80, 0), 25U);
  EXPECT_EQ(policy->next_size(30, 0), 15U);  // R / 2
}

TEST(AdaptivePolicyTest, worker_outside_range_is_an_error) {
  for (PolicyKind kind : {PolicyKind::awf, PolicyKind::af, PolicyKind::automatic}) {
    auto policy = make_policy(spec_of(kind), 100, 2);
    EXPECT_THROW((void)policy->next_size(10, 2), Error) << policy_name(kind);
    EXPECT_THROW(policy->observe(report(-1, 1, 0.1)), Error) << policy_name(kind);
  }
}

// ---- auto ----------------------------------------------------------------------------------------------

TEST(AutoPolicyTest, probes_then_fac2_capped_at_the_mfsc_chunk_on_regular_work) {
  // N = 1000, P = 4: FAC2 gives 8 batches of 4 = 32 chunks -> cap K = 1000/32 = 32 (rounded up: 32).
  // Unmeasured workers get min(FAC2 125, ceil(K/2) = 16) = 16 each (R = 936). All report 0.001 s
  // per task, no variance: AF's chunk is R/4, never the smallest before the end. FAC2 batches:
  // R_j = 936, 808, 680, 552, 424, 296 -> ceil(R_j/8) = 117 .. 37, capped at 32 (24 chunks, R = 168);
  // R_j = 168 -> 21 x 4 (R = 84) -> 11 x 4 (40) -> 5 x 4 (20) -> 3 x 4 (8) -> 1 x 4 (4) -> 1 x 4.
  // At R = 11, AF's R/4 = 2.75 -> 3, the same as FAC2's 3.
  ChunkDispatcher d(spec_of(PolicyKind::automatic), {{0, 1000}}, 4);
  Sizes out;
  for (int w = 0; w < 4; ++w) {
    out.push_back(d.next(w)->size());
  }
  for (int w = 0; w < 4; ++w) {
    d.observe(report(w, 16, 0.001));
  }
  for (int w = 0; !d.exhausted(); w = (w + 1) % 4) {
    out.push_back(d.next(w)->size());
  }
  Sizes expected(4, 16);
  for (auto [size, count] : {std::pair{32, 24}, {21, 4}, {11, 4}, {5, 4}, {3, 4}, {1, 8}}) {
    expected.insert(expected.end(), count, size);
  }
  EXPECT_EQ(out, expected);
}

TEST(AutoPolicyTest, high_variance_hands_over_to_af) {
  // N = 1000, P = 2: FAC2 gives 18 chunks -> K = ceil(1000/18) = 56; probes of 28.
  // Both workers: mean 0.01 s, sigma^2 0.0025 (coefficient of variation 5). At R = 100 FAC2's batch
  // opens with ceil(100/4) = 25; AF: D = 0.5, T = 0.005, TR = 0.5: (0.5 + 1 - sqrt(0.25 + 1)) / 0.02
  // = 19.10 -> 20 < 25.
  auto irregular = make_policy(spec_of(PolicyKind::automatic), 1000, 2);
  EXPECT_EQ(irregular->next_size(1000, 0), 28U);
  EXPECT_EQ(irregular->next_size(972, 1), 28U);
  irregular->observe(report(0, 28, 0.01, 0.0025));
  irregular->observe(report(1, 28, 0.01, 0.0025));
  EXPECT_EQ(irregular->next_size(100, 0), 20U);
  // The same with no variance: AF says R/2 = 50, so FAC2's 25 stands.
  auto regular = make_policy(spec_of(PolicyKind::automatic), 1000, 2);
  (void)regular->next_size(1000, 0);
  (void)regular->next_size(972, 1);
  regular->observe(report(0, 28, 0.01));
  regular->observe(report(1, 28, 0.01));
  EXPECT_EQ(regular->next_size(100, 0), 25U);
}

TEST(AutoPolicyTest, twice_slower_worker_gets_half_once_workers_differ) {
  // Worker 0: mean 0.01, sigma^2 1e-6; worker 1: mean 0.02, sigma^2 4e-6; 28 tasks each.
  // 0.02 > 1.1 * 0.01 and the gap 0.01 > 3 sqrt(4e-6/28 + 1e-6/28) = 0.0013: the workers differ.
  // Weights 4/3, 2/3; at R = 100: AWF-C 25 * 4/3 = 33.3 -> 34 and 25 * 2/3 = 16.7 -> 17; the caps
  // (56, 56 * 2/3 = 37.3) and AF (65.3, 32.6) are larger.
  AutoPolicy policy(1000, 2);
  (void)policy.next_size(1000, 0);
  (void)policy.next_size(972, 1);
  policy.observe(report(0, 28, 0.01, 1e-6));
  policy.observe(report(1, 28, 0.02, 4e-6));
  EXPECT_FALSE(policy.weighting());
  EXPECT_EQ(policy.next_size(100, 0), 34U);
  EXPECT_TRUE(policy.weighting());
  EXPECT_EQ(policy.next_size(100, 1), 17U);
  // At R = 300 the slow worker's cap binds: AWF-C says 75 * 2/3 = 50, the cap 37.3 -> 38.
  EXPECT_EQ(policy.next_size(300, 1), 38U);
}

TEST(AutoPolicyTest, noise_is_not_a_slow_worker) {
  // Means 0.010 and 0.012, sigma^2 1e-4 each, 28 tasks: 20% apart, but 3 standard errors are
  // 3 sqrt(2e-4/28) = 0.0080 > 0.002: no weighting. After 500 more tasks each at the same statistics
  // (pooled sigma^2 = 0.0526/527 = 0.99810e-4), 3 sqrt(2 * 0.99810e-4 / 528) = 0.00184 < 0.002: weighting.
  AutoPolicy policy(10000, 2);
  (void)policy.next_size(10000, 0);
  (void)policy.next_size(9000, 1);
  policy.observe(report(0, 28, 0.010, 1e-4));
  policy.observe(report(1, 28, 0.012, 1e-4));
  (void)policy.next_size(8000, 0);
  EXPECT_FALSE(policy.weighting());
  policy.observe(report(0, 500, 0.010, 1e-4));
  policy.observe(report(1, 500, 0.012, 1e-4));
  (void)policy.next_size(7000, 0);
  EXPECT_TRUE(policy.weighting());
}

// ---- fac: factoring with the measured coefficient of variation ------------------------------------------

TEST(FactoringRatioTest, matches_hummel_schonberg_flynn) {
  // x = 2 + b^2 + b sqrt(b^2 + 4), b = P c / (2 sqrt R), evaluated in Python (math module).
  EXPECT_EQ(detail::factoring_ratio(0.0, 4, 1000), 2.0);  // no spread: FAC2
  EXPECT_EQ(detail::factoring_ratio(std::nan(""), 4, 1000), 2.0);
  EXPECT_NEAR(detail::factoring_ratio(2.0, 4, 500), 2.3911991091302984, 1e-12);
  EXPECT_NEAR(detail::factoring_ratio(7.3, 2, 16), 10.271835670536625, 1e-12);  // lognormal sigma = 2
}

TEST(MeasuredFactoringPolicyTest, is_fac2_until_a_report_comes) {
  EXPECT_EQ(sequence(spec_of(PolicyKind::fac), 100, 4), sequence(spec_of(PolicyKind::fac2), 100, 4));
}

TEST(MeasuredFactoringPolicyTest, next_batch_from_the_pooled_spread_of_every_report) {
  // N = 1600, P = 4: the first batch is FAC2's ceil(1600 / 8) = 200 each. Two workers report 100
  // tasks of 1 s and 100 of 3 s: pooled sample sd / mean = 0.5012547 (numpy, ddof = 1), R = 800:
  // x = 2.0721555, chunk = ceil(800 / (4 x)) = ceil(96.52) = 97 for the whole batch.
  auto policy = make_policy(spec_of(PolicyKind::fac), 1600, 4);
  for (int w = 0; w < 4; ++w) {
    EXPECT_EQ(policy->next_size(1600 - 200 * static_cast<TaskIndex>(w), w), 200U);
  }
  policy->observe(report(0, 100, 1.0));
  policy->observe(report(1, 100, 3.0));
  EXPECT_EQ(policy->next_size(800, 2), 97U);
  EXPECT_EQ(policy->next_size(703, 0), 97U);  // the same batch
}

TEST(MeasuredFactoringPolicyTest, heavy_tails_end_in_single_tasks_where_fac2_gives_quarters) {
  // c = 7.3 (lognormal sigma = 2), P = 2, R = 16: x = 10.27, 16 / (2 x) = 0.78 -> 1; FAC2: 4.
  auto policy = make_policy(spec_of(PolicyKind::fac), 1000, 2);
  (void)policy->next_size(1000, 0);
  (void)policy->next_size(750, 1);
  policy->observe(report(0, 250, 1.0, 7.3 * 7.3));
  EXPECT_EQ(policy->next_size(16, 0), 1U);
  auto fac2 = make_policy(spec_of(PolicyKind::fac2), 1000, 2);
  (void)fac2->next_size(1000, 0);
  (void)fac2->next_size(750, 1);
  EXPECT_EQ(fac2->next_size(16, 0), 4U);
}

TEST(MeasuredFactoringPolicyTest, shrinks_no_chunk_below_fac2_under_100_us_of_work) {
  // Tasks of 50 ns with c = 5 (the clock's spread), P = 2: the smallest chunk worth a message is
  // 100 us / 50 ns = 2000 tasks, so x <= R / (2 * 2000). R = 16000: the paper's x = 2.0806348808
  // (< 4) stands, ceil(16000 / (2 x)) = 3845; R = 1600: x = 2.266 is held at 2, FAC2's 400.
  for (const auto& [remaining, chunk] : {std::pair<TaskIndex, TaskIndex>{16000, 3845}, {1600, 400}}) {
    auto policy = make_policy(spec_of(PolicyKind::fac), 40000, 2);
    (void)policy->next_size(40000, 0);
    (void)policy->next_size(30000, 1);
    policy->observe(report(0, 10000, 50e-9, 25.0 * 50e-9 * 50e-9));
    EXPECT_EQ(policy->next_size(remaining, 0), chunk) << remaining;
  }
}

// ---- names ---------------------------------------------------------------------------------------------

TEST(PolicyNamesTest, every_family_member_has_a_name) {
  for (std::string_view name : {"static", "ss", "fsc", "mfsc", "gss", "tss", "fac2", "fac", "wf", "awf", "awf-b", "awf-c",
                                "awf-d", "awf-e", "af", "auto"}) {
    const auto kind = parse_policy_kind(name);
    ASSERT_TRUE(kind.has_value()) << name;
    EXPECT_EQ(policy_name(*kind), name);
  }
  EXPECT_EQ(parse_policy_kind("trapezoid"), PolicyKind::tss);
  EXPECT_EQ(parse_policy_kind("weighted"), PolicyKind::wf);
  EXPECT_EQ(parse_policy_kind("adaptive"), PolicyKind::af);
  EXPECT_EQ(parse_policy_kind("awf_b"), std::nullopt);
}

}  // namespace
}  // namespace taskfarm::schedule
