#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mandelbrot/mandelbrot.hpp"
#include "synthetic/synthetic.hpp"
#include "taskfarm/api/adapt.hpp"
#include "taskfarm/core/error.hpp"
#include "taskfarm/job/job_spec.hpp"

namespace taskfarm::job {
namespace {

/// Parses `text` as job.toml and builds its kernel, returning the InputError's message ("" if none).
std::string error_of(const std::string& text) {
  try {
    JobSpec spec = parse_job(text, "job.toml");
    app::Registry registry;
    registry.add(detail::adapt(apps::mandelbrot()));
    registry.add(detail::adapt(apps::synthetic()));
    (void)registry.instantiate(spec, 0);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(JobSpecTest, parses_a_complete_job) {
  const std::string text = R"([job]
name = "sweep"
app = "synthetic"
output = "out/sweep.h5"

[schedule]
policy = "guided"
min_chunk = 2
max_chunk = 64
prefetch = 3
master_computes = false

[params]
combine = "product"
temperature = { linspace = [1.0, 3.0, 5] }
seed = [1, 2, 3]
label = ["a", "b"]

[app]
distribution = "constant"
mean_ms = 0.0
)";
  const JobSpec spec = parse_job(text, "sweep.toml");
  EXPECT_EQ(spec.name, "sweep");
  EXPECT_EQ(spec.app, "synthetic");
  EXPECT_EQ(spec.output, "out/sweep.h5");
  EXPECT_EQ(spec.schedule.policy.kind, schedule::PolicyKind::gss);
  EXPECT_EQ(spec.schedule.policy.min_chunk, 2U);
  EXPECT_EQ(spec.schedule.policy.max_chunk, 64U);
  EXPECT_EQ(spec.schedule.prefetch, 3U);
  EXPECT_FALSE(spec.schedule.master_computes);
  ASSERT_EQ(spec.params.axes().size(), 3U);
  // Axis order is the file's, not alphabetical.
  EXPECT_EQ(spec.params.axes()[0].name(), "temperature");
  EXPECT_EQ(spec.params.axes()[1].name(), "seed");
  EXPECT_EQ(spec.params.axes()[2].name(), "label");
  EXPECT_EQ(spec.params.size(), 30U);
  EXPECT_EQ(spec.text, text);
  EXPECT_EQ(spec.hash().size(), 16U);
  EXPECT_EQ(error_of(text), "");
}

TEST(JobSpecTest, defaults_name_and_output_from_the_file_name) {
  const JobSpec spec = parse_job("[job]\napp = \"mandelbrot\"\n", "jobs/demo.toml");
  EXPECT_EQ(spec.name, "demo");
  EXPECT_EQ(spec.output, "demo.h5");
  EXPECT_EQ(spec.schedule.policy.kind, schedule::PolicyKind::fac);
  EXPECT_EQ(spec.schedule.prefetch, 0U);
  EXPECT_TRUE(spec.schedule.master_computes);
}

TEST(JobSpecTest, parses_the_options_of_the_dynamic_policies) {
  const auto schedule_of = [](const std::string& table) {
    return parse_job("[job]\napp = \"synthetic\"\n[schedule]\n" + table, "job.toml").schedule.policy;
  };
  const schedule::PolicySpec tss = schedule_of("policy = \"trapezoid\"\nfirst = 40\nlast = 2\n");
  EXPECT_EQ(tss.kind, schedule::PolicyKind::tss);
  EXPECT_EQ(tss.first, 40U);
  EXPECT_EQ(tss.last, 2U);
  const schedule::PolicySpec fsc = schedule_of("policy = \"fsc\"\noverhead_us = 50\nsigma_ms = 2.5\n");
  EXPECT_EQ(fsc.chunk, 0U);
  EXPECT_DOUBLE_EQ(fsc.overhead_seconds, 50e-6);
  EXPECT_DOUBLE_EQ(fsc.sigma_seconds, 2.5e-3);
  const schedule::PolicySpec wf = schedule_of("policy = \"wf\"\nweights = [1, 2.5, 1]\n");
  EXPECT_EQ(wf.weights, (std::vector<double>{1.0, 2.5, 1.0}));
  EXPECT_EQ(schedule_of("policy = \"awf-e\"\nweights = [3, 1]\n").kind, schedule::PolicyKind::awf_e);
  EXPECT_EQ(schedule_of("policy = \"auto\"\n").kind, schedule::PolicyKind::automatic);
  EXPECT_EQ(schedule_of("policy = \"mfsc\"\n").kind, schedule::PolicyKind::mfsc);
}

TEST(JobSpecTest, hash_is_fnv1a_of_the_text) {
  // FNV-1a 64 of "a" is af63dc4c8601ec8c (reference value from the FNV authors' test vectors).
  JobSpec spec;
  spec.text = "a";
  EXPECT_EQ(spec.hash(), "af63dc4c8601ec8c");
  spec.text = "";
  EXPECT_EQ(spec.hash(), "cbf29ce484222325");
}

struct BadJob {
  const char* name;
  std::string text;
  std::string message;  // the whole one-line error
};

class JobErrorTest : public ::testing::TestWithParam<BadJob> {};

TEST_P(JobErrorTest, names_file_line_key_and_expectation) { EXPECT_EQ(error_of(GetParam().text), GetParam().message); }

const std::string kApp = "[job]\napp = \"synthetic\"\n";
const std::string kTasks = "[params]\ntask = { range = [0, 10] }\n";

INSTANTIATE_TEST_SUITE_P(
    AllErrors, JobErrorTest,
    ::testing::Values(
        BadJob{"malformed_toml", "[job\napp = 1\n",
               "job.toml:1:5: malformed TOML: Error while parsing table header: expected ']', saw '\\n'"},
        BadJob{"unknown_table", kApp + "[sched]\npolicy = \"ss\"\n",
               "job.toml:3: [sched]: unknown table; expected [job], [schedule], [params] or [app]"},
        BadJob{"missing_job", "[schedule]\npolicy = \"ss\"\n",
               "job.toml: [job]: missing; expected a [job] table with at least app = \"...\""},
        BadJob{"missing_app", "[job]\nname = \"x\"\n", "job.toml: [job] app: missing; expected a string"},
        BadJob{"app_not_a_string", "[job]\napp = 3\n", "job.toml:2: [job] app: expected a string, got 3"},
        BadJob{"unknown_app", "[job]\napp = \"nbody\"\n" + kTasks,
               "job.toml: [job] app: unknown app \"nbody\"; expected one of: mandelbrot, synthetic"},
        BadJob{"unknown_job_key", kApp + "outptu = \"x.h5\"\n",
               "job.toml:3: [job] outptu: unknown key; expected one of: app, expected_seconds, fail_fast, name, output, retries, slots, threads_per_task"},
        BadJob{"unknown_policy", kApp + "[schedule]\npolicy = \"fastest\"\n",
               "job.toml:4: [schedule] policy: unknown policy \"fastest\"; expected one of: static, ss (self), "
               "fsc (fixed; needs chunk, or overhead_us and sigma_ms), mfsc, gss (guided), tss (trapezoid), "
               "fac2 (factoring), fac (the default), wf (weighted), awf, awf-b, awf-c, awf-d, awf-e, af (adaptive), auto"},
        BadJob{"unknown_schedule_key", kApp + "[schedule]\nchunk_size = 4\n",
               "job.toml:4: [schedule] chunk_size: unknown key; expected one of: chunk, first, groups, last, "
               "master_computes, max_chunk, min_chunk, order, overhead_us, policy, prefetch, root_policy, "
               "sigma_ms, speculate, weights"},
        BadJob{"fsc_without_chunk", kApp + "[schedule]\npolicy = \"fsc\"\n",
               "job.toml: [schedule] chunk: missing; policy \"fsc\" needs a positive chunk size, or overhead_us and "
               "sigma_ms to derive one"},
        BadJob{"fsc_overhead_without_sigma", kApp + "[schedule]\npolicy = \"fsc\"\noverhead_us = 50\n",
               "job.toml: [schedule] sigma_ms: missing; without chunk, policy \"fsc\" needs sigma_ms (standard "
               "deviation of one task's time, milliseconds) as well as overhead_us"},
        BadJob{"fsc_sigma_without_overhead", kApp + "[schedule]\npolicy = \"fsc\"\nsigma_ms = 2.5\n",
               "job.toml: [schedule] overhead_us: missing; without chunk, policy \"fsc\" needs overhead_us "
               "(scheduling overhead per chunk, microseconds) as well as sigma_ms"},
        BadJob{"fsc_zero_sigma", kApp + "[schedule]\npolicy = \"fsc\"\noverhead_us = 50\nsigma_ms = 0\n",
               "job.toml:6: [schedule] sigma_ms: expected a positive number of milliseconds, got 0"},
        BadJob{"fsc_negative_overhead", kApp + "[schedule]\npolicy = \"fsc\"\noverhead_us = -1.5\nsigma_ms = 1\n",
               "job.toml:5: [schedule] overhead_us: expected a positive number of microseconds, got -1.5"},
        BadJob{"overhead_for_gss", kApp + "[schedule]\npolicy = \"gss\"\noverhead_us = 50\n",
               "job.toml:5: [schedule] overhead_us: only policy \"fsc\" uses it; policy is \"gss\""},
        BadJob{"tss_first_zero", kApp + "[schedule]\npolicy = \"tss\"\nfirst = 0\n",
               "job.toml:5: [schedule] first: expected a positive integer, got 0"},
        BadJob{"tss_last_above_first", kApp + "[schedule]\npolicy = \"tss\"\nfirst = 8\nlast = 9\n",
               "job.toml:6: [schedule] last: must be at most first (8)"},
        BadJob{"tss_last_not_integer", kApp + "[schedule]\npolicy = \"tss\"\nlast = 1.5\n",
               "job.toml:5: [schedule] last: expected an integer, got 1.5"},
        BadJob{"first_for_the_default", kApp + "[schedule]\nfirst = 100\n",
               "job.toml:4: [schedule] first: only policy \"tss\" uses it; policy is \"fac\""},
        BadJob{"wf_empty_weights", kApp + "[schedule]\npolicy = \"wf\"\nweights = []\n",
               "job.toml:5: [schedule] weights: expected one positive weight per computing rank, got an empty list"},
        BadJob{"wf_zero_weight", kApp + "[schedule]\npolicy = \"wf\"\nweights = [1, 2, 0]\n",
               "job.toml:5: [schedule] weights: expected positive weights, got 0 at position 3"},
        BadJob{"wf_weights_not_numbers", kApp + "[schedule]\npolicy = \"wf\"\nweights = [\"fast\"]\n",
               "job.toml:5: [schedule] weights: expected an array of numbers, found \"fast\""},
        BadJob{"weights_for_af", kApp + "[schedule]\npolicy = \"af\"\nweights = [1, 2]\n",
               "job.toml:5: [schedule] weights: only policies wf, awf, awf-b, awf-c, awf-d and awf-e use it; policy "
               "is \"af\""},
        BadJob{"negative_chunk", kApp + "[schedule]\npolicy = \"fsc\"\nchunk = -4\n",
               "job.toml:5: [schedule] chunk: expected a non-negative integer, got -4"},
        BadJob{"max_below_min", kApp + "[schedule]\nmin_chunk = 8\nmax_chunk = 4\n",
               "job.toml:5: [schedule] max_chunk: must be at least min_chunk (8)"},
        BadJob{"prefetch_zero", kApp + "[schedule]\nprefetch = 0\n",
               "job.toml:4: [schedule] prefetch: expected \"auto\" or an integer in [1, 4096], got 0"},
        BadJob{"empty_list_axis", kApp + "[params]\nseed = []\n",
               "job.toml:4: [params] seed: empty list; an axis needs at least one value"},
        BadJob{"empty_range_axis", kApp + "[params]\ntask = { range = [5, 5] }\n",
               "job.toml:4: [params] task: range(5, 5, 1) is empty; an axis needs at least one value"},
        BadJob{"linspace_count_zero", kApp + "[params]\nx = { linspace = [0.0, 1.0, 0] }\n",
               "job.toml:4: [params.x] linspace: count must be a positive integer, got 0"},
        BadJob{"range_step_zero", kApp + "[params]\ntask = { range = [0, 10, 0] }\n",
               "job.toml:4: [params.task] range: step must not be 0"},
        BadJob{"two_generators", kApp + "[params]\nx = { range = [0, 3], linspace = [0, 1, 3] }\n",
               "job.toml:4: [params] x: expected exactly one of range, linspace, logspace"},
        BadJob{"unknown_axis_key", kApp + "[params]\nx = { range = [0, 3], stepp = 2 }\n",
               "job.toml:4: [params.x] stepp: unknown key; expected one of: linspace, logspace, range"},
        BadJob{"mixed_list", kApp + "[params]\nx = [1, \"a\"]\n",
               "job.toml:4: [params] x: expected a list of integers, reals or strings (one kind)"},
        BadJob{"zip_unequal", kApp + "[params]\ncombine = \"zip\"\na = [1, 2]\nb = [1, 2, 3]\n",
               "job.toml: [params] zipped axes must have equal lengths: 'a' has 2 values, 'b' has 3"},
        BadJob{"bad_combine", kApp + "[params]\ncombine = \"outer\"\na = [1]\n",
               "job.toml:4: [params] combine: expected \"product\" or \"zip\""},
        BadJob{"synthetic_without_params", kApp,
               "job.toml: [params]: missing; app \"synthetic\" needs at least one parameter axis, e.g. task = "
               "{ range = [0, 100] }"},
        BadJob{"unknown_distribution", kApp + kTasks + "[app]\ndistribution = \"cauchy\"\n",
               "job.toml:6: [app] distribution: unknown distribution \"cauchy\"; expected one of: constant, "
               "uniform, normal, exponential, lognormal, gamma, bimodal, increasing, decreasing, file, replay"},
        BadJob{"app_typo", "[job]\napp = \"mandelbrot\"\n[app]\nwidht = 10\n",
               "job.toml:4: [app] widht: unknown key; expected one of: height, max_iter, region, width"},
        BadJob{"wrong_type", "[job]\napp = \"mandelbrot\"\n[app]\nwidth = \"big\"\n",
               "job.toml:4: [app] width: expected an integer, got \"big\""},
        BadJob{"negative_width", "[job]\napp = \"mandelbrot\"\n[app]\nwidth = -3\n",
               "job.toml:4: [app] width: expected an integer in [1, 1048576], got -3"},
        BadJob{"bad_region", "[job]\napp = \"mandelbrot\"\n[app]\nregion = [1, 0, 0, 1]\n",
               "job.toml:4: [app] region: expected [x0, x1, y0, y1] with x0 < x1 and y0 < y1"},
        BadJob{"huge_row_range", "[job]\napp = \"mandelbrot\"\n[params]\nrow = { range = [0, 1000000000000] }\n",
               "job.toml: [params] row: value 999999999999 is outside [0, height = 480)"},
        BadJob{"row_outside_image", "[job]\napp = \"mandelbrot\"\n[params]\nrow = [0, 480]\n",
               "job.toml: [params] row: value 480 is outside [0, height = 480)"},
        BadJob{"zero_threads", kApp + "threads_per_task = 0\n",
               "job.toml:3: [job] threads_per_task: expected an integer in [1, 4096], got 0"},
        // values taskfarm cannot store or compare (issue 13)
        BadJob{"nan_in_axis", kApp + "[params]\nx = [1.0, nan]\n",
               "job.toml:4: [params] x: expected a finite number, got nan"},
        BadJob{"inf_in_linspace", kApp + "[params]\nx = { linspace = [0.0, -inf, 3] }\n",
               "job.toml:4: [params.x] linspace: expected a finite number, got -inf"},
        BadJob{"logspace_to_infinity", kApp + "[params]\nx = { logspace = [0, 400, 2] }\n",
               "job.toml:4: [params] x: logspace(0, 400, 2) reaches a value that is not a finite number"},
        BadJob{"nan_setting", kApp + "[app]\nmean_ms = nan\n",
               "job.toml:4: [app] mean_ms: expected a finite number, got nan"},
        BadJob{"nul_in_string", kApp + "[params]\nx = [\"a\\u0000b\"]\n",
               "job.toml:4: [params] x: the string contains a NUL character (\\u0000)"},
        BadJob{"slash_in_axis_name", kApp + "[params]\n\"a/b\" = [1]\n",
               "job.toml:4: [params] a/b: not a usable axis name: it contains '/' (HDF5's path separator)"},
        BadJob{"dot_axis_name", kApp + "[params]\n\".\" = [1]\n",
               "job.toml:4: [params] .: not a usable axis name: \".\" and \"..\" are reserved by HDF5"},
        BadJob{"empty_axis_name", kApp + "[params]\n\"\" = [1]\n",
               "job.toml:4: [params] : not a usable axis name: it is empty"},
        BadJob{"padded_axis_name", kApp + "[params]\n\" T\" = [1]\n",
               "job.toml:4: [params]  T: not a usable axis name: it starts or ends with white space"}),
    [](const ::testing::TestParamInfo<BadJob>& p) { return p.param.name; });

TEST(JobSpecTest, missing_file_is_an_input_error) {
  try {
    (void)load_job("/nonexistent/job.toml");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/job.toml: cannot read the job file (No such file or directory)");
  }
}

TEST(ParamIdentityTest, the_same_space_maps_every_task_to_itself) {
  const ParamSpace a({Axis::linspace("T", 1.0, 2.0, 3), Axis::integer_range("seed", 0, 2)}, Combine::product);
  EXPECT_EQ(match_tasks(a, a), (std::vector<TaskIndex>{0, 1, 2, 3, 4, 5}));
}

TEST(ParamIdentityTest, an_edited_sweep_keeps_the_tasks_whose_values_stayed) {
  // before: T in {1, 2, 3} x seed in {0, 1}: task = 2*iT + seed; after: T in {0.5, 1, 3}, seed {0, 1, 2}
  const ParamSpace before({Axis::list("T", std::vector<double>{1, 2, 3}), Axis::integer_range("seed", 0, 2)},
                          Combine::product);
  const ParamSpace after({Axis::list("T", std::vector<double>{0.5, 1, 3}), Axis::integer_range("seed", 0, 3)},
                         Combine::product);
  // (1,0)->(T idx 1, seed 0) = 3, (1,1) -> 4, (2,*) gone, (3,0) -> 6, (3,1) -> 7 (worked out by hand)
  EXPECT_EQ(match_tasks(before, after), (std::vector<TaskIndex>{3, 4, kNoTask, kNoTask, 6, 7}));
}

TEST(ParamIdentityTest, axes_match_by_name_and_numbers_by_value) {
  // the axes swap places and seed becomes a real axis: 1 == 1.0
  const ParamSpace before({Axis::list("T", std::vector<double>{1.5, 2.5}), Axis::list("seed", std::vector<std::int64_t>{1, 2})},
                          Combine::product);
  const ParamSpace after({Axis::list("seed", std::vector<double>{2.0, 1.0}), Axis::list("T", std::vector<double>{2.5, -0.0})},
                         Combine::product);
  // before: 0=(1.5,1) 1=(1.5,2) 2=(2.5,1) 3=(2.5,2); after: 0=(seed 2,T 2.5) 1=(2,-0) 2=(1,2.5) 3=(1,-0)
  EXPECT_EQ(match_tasks(before, after), (std::vector<TaskIndex>{kNoTask, kNoTask, 2, 0}));
}

TEST(ParamIdentityTest, zero_signs_and_integers_beyond_double_precision) {
  const ParamSpace before({Axis::list("x", std::vector<double>{0.0, 1.0})}, Combine::zip);
  const ParamSpace after({Axis::list("x", std::vector<double>{1.0, -0.0})}, Combine::zip);
  EXPECT_EQ(match_tasks(before, after), (std::vector<TaskIndex>{1, 0}));  // -0 is 0
  // 2^53 + 1 has no double: as a real it rounds to 2^53, which must not make it equal to 2^53
  const std::int64_t p53 = std::int64_t{1} << 53;
  const ParamSpace ints({Axis::list("n", std::vector<std::int64_t>{p53 + 1, p53})}, Combine::zip);
  const ParamSpace reals({Axis::list("n", std::vector<double>{static_cast<double>(p53)})}, Combine::zip);
  EXPECT_EQ(match_tasks(ints, reals), (std::vector<TaskIndex>{kNoTask, 0}));
}

TEST(ParamIdentityTest, many_replicates_pair_up_one_to_one) {
  // 5000 identical tuples on each side (zip rows as repeats): each pairs with exactly one
  const ParamSpace before({Axis::list("x", std::vector<std::int64_t>(5000, 7))}, Combine::zip);
  const ParamSpace after({Axis::list("x", std::vector<std::int64_t>(5001, 7))}, Combine::zip);
  const std::vector<TaskIndex> target = match_tasks(before, after);
  for (TaskIndex t = 0; t < 5000; ++t) {
    ASSERT_EQ(target[t], t);
  }
}

TEST(ParamIdentityTest, a_different_set_of_axes_matches_nothing) {
  const ParamSpace before({Axis::integer_range("seed", 0, 3)}, Combine::product);
  const ParamSpace after({Axis::integer_range("seed", 0, 3), Axis::list("L", std::vector<std::int64_t>{16})},
                         Combine::product);
  EXPECT_EQ(match_tasks(before, after), (std::vector<TaskIndex>{kNoTask, kNoTask, kNoTask}));
}

TEST(ParamIdentityTest, repeated_tuples_pair_up_in_order_and_text_compares_exactly) {
  const ParamSpace before({Axis::list("f", std::vector<std::string>{"a", "b", "a"})}, Combine::zip);
  const ParamSpace after({Axis::list("f", std::vector<std::string>{"a", "A", "a", "a"})}, Combine::zip);
  EXPECT_EQ(match_tasks(before, after), (std::vector<TaskIndex>{0, kNoTask, 2}));
}

}  // namespace
}  // namespace taskfarm::job
