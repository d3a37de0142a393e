#!/usr/bin/python3
"""End-to-end: a small Mandelbrot job under mpiexec with 1-4 ranks and each scheduling policy; the
output file is read back with h5py and checked against the documented layout, and the image is
recomputed independently with numpy and compared bit for bit.

    TASKFARM=build/dev/bin/taskfarm MANDELBROT_PNG=build/dev/bin/mandelbrot_png \
        /usr/bin/python3 tests/e2e/test_mandelbrot_h5py.py
"""

import datetime
import re
import struct
import unittest
import zlib

import h5py
import numpy as np

import common

WIDTH = 97
HEIGHT = 61
MAX_ITER = 200
REGION = (-2.2, 0.8, -1.0, 1.0)  # x0, x1, y0, y1

# (ranks, policy, extra [schedule] lines)
RUNS = [
    (1, "static", ""),
    (2, "ss", ""),
    (3, "fsc", "chunk = 5\n"),
    (4, "gss", ""),
    (3, "fac2", ""),
]

CHUNK_FIELDS = ("begin", "end", "rank", "assigned", "started", "finished", "speculative")


def job_text(policy, extra):
    return (
        "# e2e: small mandelbrot\n"
        "[job]\n"
        f'name = "mandel-{policy}"\n'
        'app = "mandelbrot"\n'
        'output = "out.h5"\n'
        "\n"
        "[schedule]\n"
        f'policy = "{policy}"\n'
        f"{extra}"
        "\n"
        "[app]\n"
        f"width = {WIDTH}\n"
        f"height = {HEIGHT}\n"
        f"region = [{REGION[0]}, {REGION[1]}, {REGION[2]}, {REGION[3]}]\n"
        f"max_iter = {MAX_ITER}\n"
    )


def fnv1a64_hex(text):
    h = 14695981039346656037
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def reference_image(width, height, region, max_iter):
    """The kernel's arithmetic in float64 numpy, same operation order (bit-identical without FMA)."""
    x0, x1, y0, y1 = region
    rows = np.arange(height, dtype=np.float64)
    cols = np.arange(width, dtype=np.float64)
    cy = (y1 - (y1 - y0) * (rows + 0.5) / float(height))[:, None] * np.ones((1, width))
    cx = np.ones((height, 1)) * (x0 + (x1 - x0) * (cols + 0.5) / float(width))[None, :]
    zr = np.zeros((height, width))
    zi = np.zeros((height, width))
    n = np.zeros((height, width), dtype=np.uint32)
    active = np.ones((height, width), dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(max_iter):
            zr2 = zr * zr
            zi2 = zi * zi
            active &= ~((zr2 + zi2) > 4.0)
            if not active.any():
                break
            new_zi = 2.0 * zr * zi + cy
            new_zr = zr2 - zi2 + cx
            zi = np.where(active, new_zi, zi)
            zr = np.where(active, new_zr, zr)
            n += active
    return n


def read_png(path):
    """Returns (width, height, bit depth, colour type, raw scanlines) after checking every CRC."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"{path}: bad PNG signature {data[:8]!r}")
    pos = 8
    chunks = []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        ctype = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(ctype + body) != crc:
            raise AssertionError(f"{path}: bad CRC in chunk {ctype!r}")
        chunks.append((ctype, body))
        pos += 12 + length
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise AssertionError(f"{path}: chunks {[c for c, _ in chunks]} do not start with IHDR and end with IEND")
    width, height, depth, colour = struct.unpack(">IIBB", chunks[0][1][:10])
    raw = zlib.decompress(b"".join(body for ctype, body in chunks if ctype == b"IDAT"))
    return width, height, depth, colour, raw


class MandelbrotEndToEnd(common.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.taskfarm = common.taskfarm()
        cls.png_tool = common.mandelbrot_png()
        cls.expected = reference_image(WIDTH, HEIGHT, REGION, MAX_ITER)

    def test_reference_is_not_trivial(self):
        # Guards the comparison itself: the image has escaped pixels, interior pixels and variety.
        self.assertGreater((self.expected == MAX_ITER).sum(), 100)
        self.assertGreater((self.expected < MAX_ITER).sum(), 100)
        self.assertGreater(len(np.unique(self.expected)), 20)

    def check_run(self, ranks, policy, extra):
        text = job_text(policy, extra)
        job = self.write("job.toml", text)
        t_start = datetime.datetime.now(datetime.timezone.utc)
        r = common.mpirun(ranks, [self.taskfarm, "run", job.name], cwd=self.tmp)
        t_end = datetime.datetime.now(datetime.timezone.utc)
        self.assertEqual(r.code, 0, r.describe())
        out = self.tmp / "out.h5"
        self.assertTrue(out.is_file(), r.describe())

        with h5py.File(out, "r") as f:
            a = f.attrs
            self.assertEqual(int(a["taskfarm_format"]), 4)
            self.assertEqual(a["status"], "complete")
            self.assertEqual(a["app"], "mandelbrot")
            self.assertEqual(a["job_name"], f"mandel-{policy}")
            self.assertEqual(a["job_spec"], text)
            self.assertRegex(a["job_hash"], r"^[0-9a-f]{16}$")
            self.assertEqual(a["job_hash"], fnv1a64_hex(text), "job_hash is not FNV-1a 64 of the job text")
            self.assertEqual(int(a["n_tasks"]), HEIGHT)
            self.assertEqual(int(a["n_ranks"]), ranks)
            self.assertEqual(a["policy"], policy)
            self.assertRegex(a["created"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            created = datetime.datetime.strptime(a["created"], "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.timezone.utc)
            slack = datetime.timedelta(seconds=5)
            self.assertTrue(t_start - slack <= created <= t_end + slack,
                            f"created {created} not within the run [{t_start}, {t_end}]")
            for name in ("wall_seconds", "master_cpu_seconds", "master_service_seconds"):
                v = a[name]
                self.assertIsInstance(v, (float, np.floating), name)
                self.assertTrue(np.isfinite(v) and v >= 0, f"{name} = {v}")
            # Rank 0's MPI thread takes up at least a request and a final message from every other rank.
            self.assertGreaterEqual(int(a["master_messages"]), 2 * (ranks - 1))
            self.assertLessEqual(a["master_service_seconds"], a["wall_seconds"])

            it = f["results/iterations"]
            self.assertEqual(it.dtype, np.dtype("uint32"))
            self.assertEqual(it.shape, (HEIGHT, WIDTH))
            image = it[...]
            if not np.array_equal(image, self.expected):
                bad = np.argwhere(image != self.expected)
                r0, c0 = bad[0]
                self.fail(f"{len(bad)} pixels differ from the numpy reference; first at row {r0} col {c0}: "
                          f"file {image[r0, c0]}, numpy {self.expected[r0, c0]}")

            row = f["params/row"]
            self.assertEqual(row.dtype, np.dtype("int64"))
            np.testing.assert_array_equal(row[...], np.arange(HEIGHT))

            state = f["tasks/state"]
            self.assertEqual(state.dtype, np.dtype("uint8"))
            self.assertEqual(state.shape, (HEIGHT,))
            self.assertTrue((state[...] == 1).all(), f"task states: {state[...]}")
            task_rank = f["tasks/rank"][...]
            self.assertEqual(task_rank.shape, (HEIGHT,))
            self.assertTrue(((task_rank >= 0) & (task_rank < ranks)).all(), f"task ranks: {task_rank}")
            seconds = f["tasks/seconds"]
            self.assertEqual(seconds.dtype, np.dtype("float64"))
            self.assertTrue((np.isfinite(seconds[...]) & (seconds[...] >= 0)).all())

            # Pandas-free tabular use: a compound dataset reads as a structured numpy array.
            chunks = f["chunks"][:]
            self.assertIsInstance(chunks, np.ndarray)
            self.assertEqual(chunks.dtype.names, CHUNK_FIELDS)
            self.assertGreaterEqual(len(chunks), 1)
            ordered = np.sort(chunks, order="begin")
            begin = ordered["begin"].astype(np.int64)
            end = ordered["end"].astype(np.int64)
            self.assertEqual(begin[0], 0, f"chunks: {ordered}")
            self.assertEqual(end[-1], HEIGHT, f"chunks: {ordered}")
            self.assertTrue((end > begin).all(), f"empty chunk in {ordered}")
            np.testing.assert_array_equal(begin[1:], end[:-1], f"chunks do not tile [0, {HEIGHT}): {ordered}")
            for c in ordered:
                self.assertTrue(0 <= c["rank"] < ranks, f"chunk {c}")
                self.assertTrue((task_rank[c["begin"]:c["end"]] == c["rank"]).all(),
                                f"chunk {c} disagrees with /tasks/rank {task_rank[c['begin']:c['end']]}")
                for t in ("assigned", "started", "finished"):
                    self.assertTrue(np.isfinite(c[t]), f"chunk {c}")
                self.assertLessEqual(c["started"], c["finished"], f"chunk {c}")
            sizes = end - begin
            if policy == "ss":
                self.assertTrue((sizes == 1).all(), f"ss chunk sizes {sizes}")
            if policy == "fsc":
                self.assertTrue((sizes[:-1] == 5).all() and 1 <= sizes[-1] <= 5, f"fsc chunk sizes {sizes}")

            failures = f["failures"]
            self.assertEqual(failures.shape, (0,))

            rank_rows = f["ranks"][:]
            self.assertEqual(len(rank_rows), ranks)
            np.testing.assert_array_equal(rank_rows["rank"], np.arange(ranks))
            np.testing.assert_array_equal(rank_rows["tasks"], np.bincount(task_rank, minlength=ranks))
            np.testing.assert_array_equal(rank_rows["chunks"],
                                          np.bincount(chunks["rank"].astype(np.int64), minlength=ranks))

        # inspect agrees with the file
        r = common.run([self.taskfarm, "inspect", "out.h5"], cwd=self.tmp)
        self.assertEqual(r.code, 0, r.describe())
        self.assertIn("status complete", r.stdout, r.describe())
        self.assertIn(f"{HEIGHT} done, 0 failed, 0 pending of {HEIGHT}", r.stdout, r.describe())

        # the PNG tool renders it
        if self.png_tool is None:
            print("note: MANDELBROT_PNG not set; PNG check skipped")
            return
        r = common.run([self.png_tool, "out.h5", "out.png"], cwd=self.tmp)
        self.assertEqual(r.code, 0, r.describe())
        width, height, depth, colour, raw = read_png(self.tmp / "out.png")
        self.assertEqual((width, height), (WIDTH, HEIGHT))
        self.assertEqual((depth, colour), (8, 2))  # 8-bit RGB
        self.assertEqual(len(raw), HEIGHT * (1 + 3 * WIDTH))
        pixels = np.frombuffer(raw, dtype=np.uint8).reshape(HEIGHT, 1 + 3 * WIDTH)[:, 1:].reshape(HEIGHT, WIDTH, 3)
        inside = self.expected == self.expected.max()
        self.assertTrue((pixels[inside] == 0).all(), "pixels inside the set are not black")


def _make_test(ranks, policy, extra):
    def test(self):
        self.check_run(ranks, policy, extra)
    test.__name__ = f"test_np{ranks}_{policy}"
    test.__doc__ = f"mpiexec -n {ranks}, policy {policy}"
    return test


for _ranks, _policy, _extra in RUNS:
    _t = _make_test(_ranks, _policy, _extra)
    setattr(MandelbrotEndToEnd, _t.__name__, _t)


if __name__ == "__main__":
    common.main()
