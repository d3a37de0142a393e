#!/usr/bin/python3
"""taskfarm plot OUT.h5 [-o DIR] [--format png|svg|pdf] [--x AXIS]: figures of a taskfarm output.

Writes, next to OUT.h5 or into DIR:
  STEM.timeline.FMT   the chunks per rank over time (Gantt), coloured by chunk size; gaps are idle time
  STEM.balance.FMT    busy and idle seconds per rank, and the histogram of task times
  STEM.FIELD.FMT      per result field: an image for per-task rows (e.g. the Mandelbrot set), or for a
                      sweep the field against the first numeric parameter (or --x AXIS), one line per
                      value of the others, replica axes (seed, rep, sample, ...) averaged with standard
                      errors, error bars from a FIELD_err field when there is one

Needs Debian's python3-h5py, python3-numpy and python3-matplotlib (cmake/setup-debian.sh). Bad input
is one line on stderr and exit code 2, as for every taskfarm command.
"""

import argparse
import itertools
import os
import sys

import numpy as np

MAX_LINES = 12  # a sweep plot with more combinations of the other axes shows their mean instead


class BadInput(Exception):
    pass


def load(path):
    import h5py

    if not os.path.exists(path):
        raise BadInput(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        if "lock" in str(e).lower():
            raise BadInput(f"{path}: a running job is writing this file; plot it when the job ends "
                           f"(taskfarm inspect {path} shows it live)") from None
        raise BadInput(f"{path}: not a readable HDF5 file ({e})") from None
    if "taskfarm_format" not in f.attrs:
        raise BadInput(f"{path}: an HDF5 file, but not a taskfarm output (no taskfarm_format attribute)")
    return f


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def timeline(f, plt, out):
    chunks = f["chunks"][:]
    n_ranks = int(f.attrs.get("n_ranks", 1))
    wall = float(f.attrs.get("wall_seconds", 0.0)) or (float(chunks["finished"].max()) if len(chunks) else 1.0)
    top = max(n_ranks, int(chunks["rank"].max()) + 1 if len(chunks) else 1)  # a resumed job's earlier runs
    fig, ax = plt.subplots(figsize=(10, min(20.0, max(3.0, 1.2 + 0.45 * top))))
    ax.set_facecolor("#eeeeee")  # idle time shows as the grey between the bars
    if len(chunks):
        sizes = (chunks["end"] - chunks["begin"]).astype(float)
        norm = plt.matplotlib.colors.LogNorm(vmin=max(1.0, sizes.min()), vmax=max(2.0, sizes.max()))
        cmap = plt.get_cmap("viridis")
        for rank in np.unique(chunks["rank"]):
            mine = chunks[chunks["rank"] == rank]
            spans = [(s, max(e - s, wall * 1e-4)) for s, e in zip(mine["started"], mine["finished"])]
            colours = [cmap(norm(v)) for v in (mine["end"] - mine["begin"])]
            ax.broken_barh(spans, (rank - 0.4, 0.8), facecolors=colours, edgecolor="none")
        fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="chunk size (tasks)")
    busy = f["ranks"]["busy_seconds"][:] if "ranks" in f else np.zeros(0)
    eff = busy.sum() / (n_ranks * wall) if wall > 0 and len(busy) else float("nan")
    ax.set_xlim(0, wall)
    ax.set_ylim(-0.6, top - 0.4)
    ax.set_yticks(range(top))
    ax.set_xlabel("seconds since start")
    ax.set_ylabel("rank")
    ax.set_title(f"{text(f.attrs.get('job_name', ''))}: {len(chunks)} chunks on {n_ranks} ranks, "
                 f"{wall:.3g} s, busy {eff:.1%}")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def balance(f, plt, out):
    wall = float(f.attrs.get("wall_seconds", 0.0))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    if "ranks" in f:
        ranks = f["ranks"][:]
        busy = ranks["busy_seconds"]
        idle = np.maximum(0.0, wall - busy)
        left.bar(ranks["rank"], busy, label="busy", color="tab:blue")
        left.bar(ranks["rank"], idle, bottom=busy, label="idle", color="tab:orange")
        left.set_xticks(ranks["rank"])
        left.legend()
    left.set_xlabel("rank")
    left.set_ylabel("seconds")
    left.set_title("busy and idle time per rank")
    state = f["tasks/state"][:]
    seconds = f["tasks/seconds"][:][state == 1]
    if len(seconds):
        positive = seconds[seconds > 0]
        if len(positive) and positive.max() / max(positive.min(), 1e-12) > 100:
            bins = np.logspace(np.log10(positive.min()), np.log10(positive.max()), 50)
            right.set_xscale("log")
            right.hist(positive, bins=bins)
        else:
            right.hist(seconds, bins=50)
    right.set_xlabel("task seconds")
    right.set_ylabel("tasks")
    right.set_title(f"{len(seconds)} tasks done, mean {seconds.mean() if len(seconds) else 0:.3g} s")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def params_of(f):
    if "params" not in f:
        return {}
    return {name: f["params"][name][:] for name in f["params"]}


def image(f, plt, name, data, params, done, out):
    """Per-task rows (shape n x w) as an image, rows ordered by the one integer axis (e.g. `row`)."""
    rows = np.arange(len(data))
    axis = [k for k, v in params.items() if v.dtype.kind in "iu"]
    if len(axis) == 1:
        rows = np.argsort(params[axis[0]], kind="stable")
    img = data[rows].astype(float)
    img[~done[rows]] = np.nan
    fig, ax = plt.subplots(figsize=(8, min(12.0, max(3.0, 8 * img.shape[0] / max(img.shape[1], 1))) + 0.8))
    finite = img[np.isfinite(img)]
    norm = None
    if len(finite) and finite.min() >= 0 and finite.max() > 100 * max(finite.min(), 1):
        norm = plt.matplotlib.colors.LogNorm(vmin=max(finite.min(), 1), vmax=finite.max())
    shown = ax.imshow(img, cmap="magma", norm=norm, aspect="auto", interpolation="nearest")
    fig.colorbar(shown, ax=ax, label=name)
    ax.set_title(f"{name} ({img.shape[0]} tasks x {img.shape[1]})")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


REPLICA_AXES = {"seed", "seeds", "rep", "replica", "replicas", "sample", "run", "trial", "repeat"}


def sweep(f, plt, name, values, errors, params, done, out, xname=None):
    """A scalar field against one numeric axis (`xname`, else the first with more than one value):
    one line per combination of the other axes. Replica axes (seed, rep, sample, ...) are averaged
    (mean +- standard error), and so is everything else when that would draw more than MAX_LINES;
    a FIELD_err field gives the error bars of single values."""
    numeric = [k for k, v in params.items() if v.dtype.kind in "iuf" and len(np.unique(v)) > 1]
    fig, ax = plt.subplots(figsize=(8, 5))
    y = np.where(done, values.astype(float), np.nan)
    dy = np.where(done, errors.astype(float), np.nan) if errors is not None else None
    if xname is None and numeric:
        xname = numeric[0]
    if xname is None:
        ax.plot(np.arange(len(y)), y, ".")
        ax.set_xlabel("task")
    else:
        x = params[xname]
        others = [k for k in params if k != xname and len(np.unique(params[k])) > 1]
        averaged = [k for k in others if k.lower() in REPLICA_AXES]
        lines = [k for k in others if k not in averaged]
        if int(np.prod([len(np.unique(params[k])) for k in lines])) > MAX_LINES:
            averaged, lines = others, []
        for combo in itertools.product(*[np.unique(params[k]) for k in lines]):
            mask = np.ones(len(x), bool)
            for k, v in zip(lines, combo):
                mask &= params[k] == v
            xs = np.unique(x[mask])
            if averaged:  # mean over replicas; error: the FIELD_err propagated, else the standard error
                ys, es = [], []
                for v in xs:
                    at = mask & (x == v) & np.isfinite(y)
                    sel = y[at]
                    ys.append(sel.mean() if len(sel) else np.nan)
                    if dy is not None and len(sel):
                        es.append(np.sqrt(np.sum(dy[at] ** 2)) / len(sel))
                    else:
                        es.append(sel.std(ddof=1) / np.sqrt(len(sel)) if len(sel) > 1 else np.nan)
                ys, es = np.array(ys), np.array(es)
            else:
                order = np.argsort(x[mask], kind="stable")
                xs, ys = x[mask][order], y[mask][order]
                es = dy[mask][order] if dy is not None else None
            label = ", ".join(f"{k}={text(v)}" for k, v in zip(lines, combo)) or name
            ax.errorbar(xs, ys, yerr=es, marker="o", ms=3, capsize=2, label=label)
        if lines or averaged:
            how = "± propagated errors" if dy is not None else "± standard error"
            title = f"mean over {', '.join(averaged)} ({how})" if averaged else None
            ax.legend(fontsize="small", title=title, title_fontsize="small")
        ax.set_xlabel(xname)
        if x.min() > 0 and x.max() / x.min() > 100:
            ax.set_xscale("log")
    unit = text(f["results"][name].attrs.get("units", ""))
    ax.set_ylabel(f"{name} [{unit}]" if unit else name)
    finite = y[np.isfinite(y)]
    if len(finite) and finite.min() > 0 and finite.max() / finite.min() > 1000:
        ax.set_yscale("log")
    ax.set_title(f"{name}: {int(done.sum())} of {len(done)} tasks done")
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv):
    p = argparse.ArgumentParser(prog="taskfarm plot", description=__doc__.split("\n\n")[0])
    p.add_argument("file")
    p.add_argument("-o", "--output-dir", default=None, help="directory for the figures (default: beside FILE)")
    p.add_argument("--format", default="png", choices=["png", "svg", "pdf"])
    p.add_argument("--x", default=None, help="the parameter on the x axis of sweep plots (default: the first numeric one)")
    args = p.parse_args(argv)
    try:
        f = load(args.file)
    except BadInput as e:
        print(f"taskfarm: error: {e}", file=sys.stderr)
        return 2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir = args.output_dir or os.path.dirname(os.path.abspath(args.file))
    if not os.path.isdir(outdir):
        print(f"taskfarm: error: {outdir}: no such directory", file=sys.stderr)
        return 2
    stem = os.path.join(outdir, os.path.splitext(os.path.basename(args.file))[0])
    written = []

    def target(kind):
        path = f"{stem}.{kind}.{args.format}"
        written.append(path)
        return path

    params = params_of(f)
    if args.x is not None and (args.x not in params or params[args.x].dtype.kind not in "iuf"):
        numeric = ", ".join(k for k, v in params.items() if v.dtype.kind in "iuf") or "none"
        print(f"taskfarm: error: --x {args.x}: not a numeric parameter of {args.file} (numeric: {numeric})",
              file=sys.stderr)
        return 2
    timeline(f, plt, target("timeline"))
    balance(f, plt, target("balance"))
    done = f["tasks/state"][:] == 1
    results = f["results"]
    for name in results:
        if name.endswith("_err") and name[:-4] in results:
            continue
        data = results[name]
        if data.dtype.kind not in "iuf":
            continue  # text (a command's stdout, its host): nothing to draw
        if data.ndim == 1 and data.dtype.kind == "f" and not np.isfinite(data[:][done]).any():
            continue  # nothing to draw (e.g. a Metropolis-only field of a Wolff run)
        if data.ndim == 2 and data.shape[1] > 1:
            image(f, plt, name, data[:], params, done, target(name))
        elif data.ndim == 1:
            errors = results[name + "_err"][:] if name + "_err" in results else None
            sweep(f, plt, name, data[:], errors, params, done, target(name), args.x)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
