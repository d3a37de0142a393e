#!/usr/bin/python3
"""End-to-end: a user's own kernel against the installed package (issue 8).

`cmake --install` of this build into a scratch prefix, which is then moved (the package must be
relocatable), `examples/oscillator` configured with nothing but CMAKE_PREFIX_PATH, built, run under
mpiexec on 1 and 3 ranks and checked against the analytic solution with h5py, killed mid-run and
resumed to the same results. The README's "Writing your own kernel" section must be the example's code.

    TASKFARM_BUILD_DIR=build/dev /usr/bin/python3 tests/e2e/test_example_package.py
"""

import math
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np

import farmproc  # noqa: F401
import common
from farmproc import EXIT_OK

BUILD_TIMEOUT = 600


def build_dir():
    d = os.environ.get("TASKFARM_BUILD_DIR")
    return Path(d) if d else common.source_dir() / "build" / "dev"


def analytic_x(omega, gamma, t):
    """x(t) of x'' + 2 gamma omega x' + omega^2 x = 0, x(0) = 1, x'(0) = 0, underdamped (gamma < 1)."""
    wd = omega * math.sqrt(1.0 - gamma * gamma)
    return math.exp(-gamma * omega * t) * (math.cos(wd * t) + gamma * omega / wd * math.sin(wd * t))


class ExamplePackage(common.TempDirTestCase):
    exe = None
    root = None

    @classmethod
    def setUpClass(cls):
        # one install and one build for the whole class (the build takes most of the time)
        import tempfile
        cls.root = Path(tempfile.mkdtemp(prefix="taskfarm-pkg-"))
        staged = cls.root / "staged"
        r = common.run(["cmake", "--install", build_dir(), "--prefix", staged], cwd=cls.root, timeout=BUILD_TIMEOUT)
        assert r.code == 0, r.describe()
        prefix = cls.root / "moved" / "prefix"
        prefix.parent.mkdir()
        shutil.move(str(staged), str(prefix))  # relocated: nothing may point at `staged`
        cls.prefix = prefix
        flags = "-fsanitize=address,undefined" if os.environ.get("TASKFARM_SANITIZE") == "ON" else ""
        example = common.source_dir() / "examples" / "oscillator"
        r = common.run(["cmake", "-S", example, "-B", cls.root / "build", "-G", "Ninja",
                        f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_CXX_FLAGS={flags}",
                        f"-DCMAKE_EXE_LINKER_FLAGS={flags}"], cwd=cls.root, timeout=BUILD_TIMEOUT)
        assert r.code == 0, r.describe()
        r = common.run(["cmake", "--build", cls.root / "build"], cwd=cls.root, timeout=BUILD_TIMEOUT)
        assert r.code == 0, r.describe()
        cls.exe = cls.root / "build" / "oscillator"

    @classmethod
    def tearDownClass(cls):
        if cls.root and not os.environ.get("TASKFARM_E2E_KEEP"):
            shutil.rmtree(cls.root, ignore_errors=True)

    def test_the_package_is_relocatable_and_holds_only_the_public_header(self):
        for f in (self.prefix / "lib" / "cmake" / "taskfarm").glob("*.cmake"):
            text = f.read_text()
            self.assertNotIn(str(build_dir().resolve()), text, f)
            self.assertNotIn(str(common.source_dir().resolve()), text, f)
            self.assertNotIn("staged", text, f)
        headers = sorted(str(p.relative_to(self.prefix / "include")) for p in (self.prefix / "include").rglob("*.hpp"))
        self.assertEqual(headers, ["taskfarm/core/error.hpp", "taskfarm/taskfarm.hpp"])
        self.assertTrue((self.prefix / "bin" / "taskfarm").exists())
        self.assertTrue((self.prefix / "share" / "taskfarm" / "slurm" / "taskfarm.sbatch").exists())

    def test_readme_shows_the_examples_real_code(self):
        code = (common.source_dir() / "examples" / "oscillator" / "oscillator.cpp").read_text()
        readme = (common.source_dir() / "README.md").read_text()
        self.assertIn(code, readme, "README's 'Writing your own kernel' must be examples/oscillator/oscillator.cpp")

    def check_against_analytic(self, path):
        with h5py.File(path, "r") as f:
            omega = f["params/omega"][()]
            gamma = f["params/gamma"][()]
            x = f["results/x"][()]
            energy = f["results/energy"][()]
            self.assertEqual(f["results/x"].attrs["unit"], b"m" if isinstance(f["results/x"].attrs["unit"], bytes)
                             else "m")
            self.assertTrue((f["tasks/state"][()] == farmproc.DONE).all())
        self.assertEqual(energy.shape, (len(x), 4))
        t_end = 10.0
        for w, g, xi in zip(omega, gamma, x):
            self.assertAlmostEqual(xi, analytic_x(w, g, t_end), delta=1e-4, msg=f"omega {w}, gamma {g}")
        undamped = gamma == 0.0
        # no damping: energy stays omega^2 / 2 (to the integrator's accuracy); damping only loses it
        np.testing.assert_allclose(energy[undamped], np.repeat(0.5 * omega[undamped, None] ** 2, 4, axis=1),
                                   rtol=1e-6)
        self.assertTrue((np.diff(energy[~undamped], axis=1) < 0).all())

    def test_runs_on_1_and_3_ranks_with_the_right_physics(self):
        job = common.source_dir() / "examples" / "oscillator" / "oscillator.toml"
        outputs = []
        for ranks in (1, 3):
            out = self.tmp / f"np{ranks}.h5"
            r = common.mpirun(ranks, [self.exe, "run", job, "-o", out, "--progress-seconds", "0"], cwd=self.tmp)
            self.assertEqual(r.code, EXIT_OK, r.describe())
            self.check_against_analytic(out)
            outputs.append(farmproc.read_output(out))
        for k in outputs[0]["results"]:
            self.assertTrue(farmproc.same_bytes(outputs[0]["results"][k], outputs[1]["results"][k]), k)
        # the whole tool came with the one call in main: validate, inspect, verify, simulate
        for args in (["validate", job], ["inspect", self.tmp / "np1.h5"], ["verify", self.tmp / "np1.h5"],
                     ["simulate", job, "--ranks", "4", "--costs", self.tmp / "np1.h5"]):
            r = common.run([self.exe, *args], cwd=self.tmp)
            self.assertEqual(r.code, EXIT_OK, r.describe())

    def test_a_typo_in_a_parameter_name_is_refused_before_it_runs(self):
        self.write("typo.toml", '[job]\napp = "oscillator"\n[params]\nomega = [1.0]\ngama = [0.1]\n')
        r = common.run([self.exe, "validate", "typo.toml"], cwd=self.tmp)
        farmproc.assert_one_error_line(self, r, "[params] gamma", "missing")
        # a parameter of the wrong kind, a bad [app] value, an [app] typo: one line each, exit 2
        cases = {"kind.toml": ('omega = ["fast"]\ngamma = [0.1]\n', "", ("[params] omega", "numeric", "text")),
                 "steps.toml": ("omega = [1.0]\ngamma = [0.1]\n", "steps = 2\n", ("[app] steps", "at least 4")),
                 "key.toml": ("omega = [1.0]\ngamma = [0.1]\n", "stpes = 10\n", ("[app] stpes", "unknown key"))}
        for name, (params, app, needles) in cases.items():
            with self.subTest(case=name):
                self.write(name, f'[job]\napp = "oscillator"\n[params]\n{params}[app]\n{app}')
                r = common.run([self.exe, "validate", name], cwd=self.tmp)
                farmproc.assert_one_error_line(self, r, *needles)

    def test_killed_and_resumed_gives_the_same_file(self):
        text = ('[job]\napp = "oscillator"\noutput = "big.h5"\n[params]\nomega = { linspace = [0.5, 4.0, 30] }\n'
                "gamma = [0.0, 0.1, 0.3, 0.5]\n[app]\nsteps = 2000000\n")
        self.write("big.toml", text.replace("big.h5", "ref.h5"))
        r = common.mpirun(3, [self.exe, "run", "big.toml", "--progress-seconds", "0"], cwd=self.tmp, timeout=300)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        self.write("big.toml", text)
        launch = farmproc.Launch(3, [self.exe, "run", "big.toml", "--progress-seconds", "0",
                                     "--checkpoint-seconds", "0.1"], self.tmp)
        self.addCleanup(launch.kill_all)
        while not (self.tmp / "big.h5").exists() and launch.running():
            time.sleep(0.01)
        time.sleep(0.5 * r.seconds)  # about half way
        for pid in [launch.pid, *launch.ranks().values()]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        launch.wait_gone()
        done = farmproc.count_done(self.tmp / "big.h5")
        self.assertTrue(0 < done < len(farmproc.read_output(self.tmp / "ref.h5")["state"]),
                        f"the kill must land mid-run to test anything ({done} tasks done)")
        r = common.mpirun(2, [self.exe, "resume", "big.h5", "--progress-seconds", "0"], cwd=self.tmp, timeout=300)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        got, ref = farmproc.read_output(self.tmp / "big.h5"), farmproc.read_output(self.tmp / "ref.h5")
        for k in ref["results"]:
            self.assertTrue(farmproc.same_bytes(got["results"][k], ref["results"][k]), k)
        print(f"\n  killed with {done} of {len(ref['state'])} tasks done; resumed to the reference", flush=True)


if __name__ == "__main__":
    common.main()
