"""The report of an `acsweep run` scoring sweep with the AC policy (jobs/demo.ini, the paper's
sweep): read from the newest complete segment of the run directory, never written to.

    python3 -m acsweep_analysis sweep RUN_DIR --out DIR

Pictures: the settings in the A-C plane with the policy's sample marked (ac_plane.png); per
benchmark the Law fitted on the sampled settings over the normalised plane, every setting
coloured by its predicted result (law_fits.png); with validation, per benchmark the Law fitted on
every setting's measured result beside the policy's fit on the finetuned ones, every setting
coloured by its measured result (law_measured.png), and Recall@1 and @3 of the policy against
random selection at every budget (recall.png); each rank's busy and idle time (ranks.png).
A fit on no more settings than its 6 coefficients is exact by construction: the report gives its
leave-one-out error rather than its R², and names the predictions outside the measured values."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .report import _markdown_table as _table  # noqa: E402
from .report import plot_recall_curves, save_figure  # noqa: E402
from .results import law_surface  # noqa: E402
from .run import segment_state  # noqa: E402


def _strings(dataset) -> list:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in dataset[()]]


@dataclass
class BenchmarkPolicy:
    coefficients: pd.Series           # terms -> value, on the normalised scale
    prediction: pd.Series             # setting -> predicted result (measured where finetuned)
    ranking: list                     # settings, best first
    r2: float
    exact: bool = False               # no more finetuned settings than coefficients: R² is 1 by construction
    loo_error: float = float("nan")   # mean |measured - the fit without that setting|, benchmark units
    extrapolated: list = field(default_factory=list)  # settings predicted outside the measured values


@dataclass
class Sweep:
    segment: str
    scores: pd.DataFrame                          # index setting: A, C, C_per_image, ...
    finetuned: pd.DataFrame                       # index setting: one column per benchmark
    sampled: list = field(default_factory=list)   # in the order drawn
    known: list = field(default_factory=list)     # results given before ([known]): counted as finetuned
    policy: dict = field(default_factory=dict)    # benchmark -> BenchmarkPolicy
    validation: dict = field(default_factory=dict)
    recall: pd.DataFrame | None = None            # benchmark (and "average"), sampler, budget, recall_at_1, recall_at_3
    ranks: pd.DataFrame | None = None             # rank: busy, idle, idle_with_task_waiting, tasks
    phases: pd.Series | None = None               # phase -> seconds


def newest_complete_segment(run_dir: str) -> str:
    folder = os.path.join(run_dir, "segments")
    for name in sorted(os.listdir(folder), reverse=True):
        path = os.path.join(folder, name)
        if name.endswith(".h5") and segment_state(path) == "complete":
            return path
    raise KeyError(f"no complete segment under {folder}")


def load_sweep(run_dir: str) -> Sweep:
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
    path = newest_complete_segment(run_dir)
    with h5py.File(path, "r") as f:
        if "scores" not in f:
            raise KeyError(f"{path} holds no scoring sweep (/scores)")
        s = f["scores"]
        names = _strings(s["setting"])
        columns = [k for k in s if k not in ("setting", "manifest", "pair", "pair_category", "pair_keypoints",
                                              "category") and s[k].shape == (len(names),)]
        scores = pd.DataFrame({k: s[k][()] for k in columns}, index=pd.Index(names, name="setting"))
        finetuned = pd.DataFrame()
        if "finetune" in f:
            g = f["finetune"]
            benchmarks = _strings(g["benchmarks"])
            finetuned = pd.DataFrame({b: g[b][()] for b in benchmarks},
                                     index=pd.Index(_strings(g["setting"]), name="setting"))
        sweep = Sweep(path, scores, finetuned)
        if "policy" in f:
            p = f["policy"]
            settings = _strings(p["setting"])
            sweep.sampled = _strings(p["sampled"])
            sweep.known = _strings(p["known"]) if "known" in p else []
            for bench in p:
                if not isinstance(p[bench], h5py.Group):
                    continue
                g = p[bench]
                flags = g["extrapolated"][()] if "extrapolated" in g else np.zeros(len(settings))  # older runs
                sweep.policy[bench] = BenchmarkPolicy(
                    pd.Series(g["coefficients"][()], index=_strings(g["terms"])),
                    pd.Series(g["prediction"][()], index=settings), _strings(g["ranking"]), float(g.attrs["r2"]),
                    bool(g.attrs.get("exact_by_construction", 0)), float(g.attrs.get("loo_mean_abs_error", np.nan)),
                    [name for name, flag in zip(settings, flags) if flag])
        if "validation" in f:
            v = f["validation"]
            sweep.validation = {
                "best": dict(zip(_strings(v["benchmark"]), _strings(v["best_setting"]))),
                "hit_at_1": dict(zip(_strings(v["benchmark"]), v["hit_at_1"][()].tolist())),
                "hit_at_3": dict(zip(_strings(v["benchmark"]), v["hit_at_3"][()].tolist())),
                "random_recall": float(v.attrs["random_recall"]),
                "law_r2": dict(zip(_strings(v["law_benchmark"]), v["law_r2"][()].tolist())) if "law_r2" in v else {},
                "law_loo": (dict(zip(_strings(v["law_benchmark"]), v["law_loo_mean_abs_error"][()].tolist()))
                            if "law_loo_mean_abs_error" in v else {}),
            }
            if "simulation" in v:
                sim = v["simulation"]
                samplers, budgets = _strings(sim["samplers"]), sim["budgets"][()]
                benchmarks = _strings(sim["benchmarks"])
                r1, r3 = sim["recall_at_1"][()], sim["recall_at_3"][()]
                a1, a3 = sim["average_recall_at_1"][()], sim["average_recall_at_3"][()]
                rows = []
                for i, sampler in enumerate(samplers):
                    for j, budget in enumerate(budgets):
                        rows += [(b, sampler, int(budget), r1[i, j, k], r3[i, j, k]) for k, b in enumerate(benchmarks)]
                        rows.append(("average", sampler, int(budget), a1[i, j], a3[i, j]))
                sweep.recall = pd.DataFrame(rows, columns=["benchmark", "sampler", "budget", "recall_at_1",
                                                           "recall_at_3"])
        if "ranks" in f:
            r = f["ranks"]
            total = float(r.attrs["sweep_seconds"])
            busy = r["busy_seconds"][()]
            columns = {"busy": busy, "idle": total - busy}
            if "waited_seconds" in r:  # idle while a task the rank could run was queued
                columns["idle_with_task_waiting"] = r["waited_seconds"][()]
            columns["tasks"] = r["tasks"][()]
            sweep.ranks = pd.DataFrame(columns, index=pd.Index(range(len(busy)), name="rank"))
            if "phase" in r:
                sweep.phases = pd.Series(r["phase_seconds"][()], index=_strings(r["phase"]))
    return sweep


def _unit(x):
    x = np.asarray(x, dtype=float)
    span = x.max() - x.min()
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def plot_ac_plane(s: Sweep, path: str) -> None:
    fig, ax = plt.subplots(figsize=(7, 5.2))
    picked, known = s.scores.index.isin(s.sampled), s.scores.index.isin(s.known)
    rest = ~picked & ~known
    ax.scatter(s.scores["A"][rest], s.scores["C"][rest], s=36, color="tab:blue", label="scored only")
    ax.scatter(s.scores["A"][picked], s.scores["C"][picked], s=70, color="tab:red", marker="*",
               label="sampled and finetuned")
    if known.any():
        ax.scatter(s.scores["A"][known], s.scores["C"][known], s=60, color="tab:green", marker="D",
                   label="known before ([known])")
    for name, row in s.scores.iterrows():
        label = name + (f"  (#{s.sampled.index(name) + 1})" if name in s.sampled else "")
        ax.annotate(label, (row["A"], row["C"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("A (mean caption log-likelihood, higher is better)")
    ax.set_ylabel("C (PCK@0.1, %)")
    ax.set_title("Settings in the A-C plane; the policy's sample in draw order")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def plot_law_fits(s: Sweep, path: str) -> None:
    benchmarks = list(s.policy)
    cols = min(3, len(benchmarks))
    rows = (len(benchmarks) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 4 * rows), squeeze=False)
    a, c = _unit(s.scores["A"]), _unit(s.scores["C"])
    grid_a, grid_c = np.meshgrid(np.linspace(0, 1, 81), np.linspace(0, 1, 81))
    for ax, bench in zip(axes.flat, benchmarks):
        p = s.policy[bench]
        z = law_surface(p.coefficients, grid_a, grid_c)
        levels = np.linspace(-0.2, 1.2, 15)
        cs = ax.contourf(grid_a, grid_c, np.clip(z, levels[0], levels[-1]), levels=levels, cmap="viridis")
        values = p.prediction.loc[s.scores.index].to_numpy()
        ax.scatter(a, c, c=values, cmap="magma", edgecolors="white", s=40, zorder=3)
        picked = s.scores.index.isin(s.sampled + s.known)
        ax.scatter(a[picked], c[picked], s=140, facecolors="none", edgecolors="red", linewidths=1.5, zorder=4)
        ax.set_title(f"{bench}: Law on the {int(picked.sum())} finetuned, {_fit_words(p)}", fontsize=9)
        ax.set_xlabel("a (normalised A)")
        ax.set_ylabel("c (normalised C)")
        fig.colorbar(cs, ax=ax, fraction=0.046)
    for ax in list(axes.flat)[len(benchmarks):]:
        ax.set_visible(False)
    fig.suptitle("The Law fitted on the finetuned settings (circled); points: predicted results")
    save_figure(fig, path)


def _fit_words(p: BenchmarkPolicy) -> str:
    """What a fit's numbers support: R² only where it is not 1 by construction."""
    loo = f"leave-one-out error {p.loo_error:.2f}" if np.isfinite(p.loo_error) else "one point"
    return f"exact by construction, {loo}" if p.exact else f"R² {p.r2:.3f}, {loo}"


def _law_fit(a, c, y):
    """The degree-2 Law by minimum-norm least squares, as acsweep fits it: coefficients by term."""
    X = np.column_stack([np.ones_like(a), a, c, a * a, a * c, c * c])
    w = np.linalg.lstsq(X, y, rcond=None)[0]
    return pd.Series(w, index=["one", "a", "c", "aa", "ac", "cc"])


def plot_law_measured(s: Sweep, path: str) -> None:
    """Per benchmark: the Law on every setting's measured result (the validation's truth), beside the
    policy's fit on the finetuned ones; every setting coloured by its measured result, both on the
    measured results' min-max scale."""
    benchmarks = [b for b in s.policy if b in s.finetuned.columns]
    fig, axes = plt.subplots(len(benchmarks), 2, figsize=(9.2, 4 * len(benchmarks)), squeeze=False)
    a, c = _unit(s.scores["A"]), _unit(s.scores["C"])
    grid_a, grid_c = np.meshgrid(np.linspace(0, 1, 81), np.linspace(0, 1, 81))
    levels = np.linspace(-0.2, 1.2, 15)
    picked = s.scores.index.isin(s.sampled + s.known)
    for row, bench in zip(axes, benchmarks):
        measured = s.finetuned[bench].reindex(s.scores.index).to_numpy(dtype=float)
        lo, span = np.nanmin(measured), (np.nanmax(measured) - np.nanmin(measured)) or 1.0
        y = (measured - lo) / span
        policy = s.policy[bench]
        # The policy's fit is on its finetuned settings' own scale: mapped to this one to compare.
        finetuned = measured[picked]
        p_lo, p_span = np.nanmin(finetuned), (np.nanmax(finetuned) - np.nanmin(finetuned)) or 1.0
        surfaces = [((law_surface(_law_fit(a, c, y), grid_a, grid_c)),
                     f"{bench}: the Law on all {len(y)} measured, "
                     f"leave-one-out error {s.validation['law_loo'].get(bench, np.nan):.2f}"),
                    ((p_lo + p_span * law_surface(policy.coefficients, grid_a, grid_c) - lo) / span,
                     f"the policy's fit on the {int(picked.sum())} finetuned")]
        for ax, (z, title) in zip(row, surfaces):
            cs = ax.contourf(grid_a, grid_c, np.clip(z, levels[0], levels[-1]), levels=levels, cmap="viridis")
            ax.scatter(a, c, c=y, cmap="magma", vmin=0, vmax=1, edgecolors="white", s=40, zorder=3)
            ax.scatter(a[picked], c[picked], s=140, facecolors="none", edgecolors="red", linewidths=1.5, zorder=4)
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("a (normalised A)")
            ax.set_ylabel("c (normalised C)")
            fig.colorbar(cs, ax=ax, fraction=0.046)
    fig.suptitle("Measured Law (left) and the policy's fit (right); points: measured, finetuned circled")
    save_figure(fig, path)


def plot_ranks(s: Sweep, path: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.4))
    ranks = s.ranks.iloc[1:] if len(s.ranks) > 1 else s.ranks  # rank 0 coordinates
    ax.bar(ranks.index, ranks["busy"], label="busy")
    ax.bar(ranks.index, ranks["idle"], bottom=ranks["busy"], label="idle", color="lightgrey")
    ax.set_xlabel("rank")
    ax.set_ylabel("seconds")
    ax.set_title("Each rank's time in tasks over the sweep")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def build_sweep_report(run_dir: str, out_dir: str) -> str:
    s = load_sweep(run_dir)
    os.makedirs(out_dir, exist_ok=True)
    md = [f"# acsweep sweep report: {os.path.basename(os.path.abspath(run_dir))}", "",
          f"From `{s.segment}`: {len(s.scores)} settings scored, {len(s.finetuned)} finetuned.", ""]
    plot_ac_plane(s, os.path.join(out_dir, "ac_plane.png"))
    table = s.scores[["A", "C"]].copy()
    table["sampled"] = ["#%d" % (s.sampled.index(n) + 1) if n in s.sampled else "known" if n in s.known else ""
                        for n in table.index]
    for bench, p in s.policy.items():
        table[f"{bench} (pred.)"] = p.prediction.loc[table.index]
    md += ["## Settings", "", "![A-C plane](ac_plane.png)", "", _table(table), ""]
    if s.policy:
        plot_law_fits(s, os.path.join(out_dir, "law_fits.png"))
        md += ["## The AC policy", "", "![Law fits](law_fits.png)", ""]
        rows = {b: {"fit on the finetuned": _fit_words(p), "shortlist": ", ".join(p.ranking[:3]),
                    "extrapolated": ", ".join(p.extrapolated) or "none"} for b, p in s.policy.items()}
        md += [_table(pd.DataFrame(rows).T.rename_axis("benchmark")), ""]
    if not s.finetuned.empty:
        md += ["## Finetuned settings (measured)", "", _table(s.finetuned), ""]
    if s.validation:
        v = s.validation
        rows = {b: {"true best": v["best"][b], "in top 1": bool(v["hit_at_1"][b]), "in top 3": bool(v["hit_at_3"][b]),
                    "Law R² (all settings)": ("1 by construction" if len(s.scores) <= 6 and b in v["law_r2"]
                                               else v["law_r2"].get(b, float("nan"))),
                    "Law leave-one-out error": v["law_loo"].get(b, float("nan"))} for b in v["best"]}
        md += ["## Validation (every setting finetuned)", "",
               f"Random selection of the same budget holds the best setting with probability "
               f"{v['random_recall']:.3f}.", "", _table(pd.DataFrame(rows).T.rename_axis("benchmark")), ""]
        if v["law_r2"] and s.policy and set(s.scores.index) <= set(s.finetuned.index):
            plot_law_measured(s, os.path.join(out_dir, "law_measured.png"))
            md += ["![Measured Law and the policy's fit](law_measured.png)", ""]
        if s.recall is not None:
            plot_recall_curves(s.recall, "Validation: the AC policy against random selection on the measured results",
                               os.path.join(out_dir, "recall.png"))
            avg = s.recall[s.recall.benchmark == "average"].pivot(index="budget", columns="sampler",
                                                                  values=["recall_at_1", "recall_at_3"])
            avg.columns = [f"{sampler} {m.replace('recall_at_', 'Recall@')}" for m, sampler in avg.columns]
            md += ["![Recall](recall.png)", "", _table(avg), ""]
    if s.ranks is not None:
        plot_ranks(s, os.path.join(out_dir, "ranks.png"))
        md += ["## Time", ""]
        if s.phases is not None:
            md += ["Wall time per phase: " + ", ".join(f"{k} {v:.1f} s" for k, v in s.phases.items()), ""]
        md += ["![Ranks](ranks.png)", "", _table(s.ranks, "{:.2f}"), ""]
    path = os.path.join(out_dir, "report.md")
    with open(path, "w") as f:
        f.write("\n".join(md))
    return path
