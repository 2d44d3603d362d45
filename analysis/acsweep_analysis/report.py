"""Build the Markdown report and its pictures from one results file."""

from __future__ import annotations

import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .results import MODELS, Results, law_surface, load  # noqa: E402


def save_figure(fig, path: str) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _grid(n: int):
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.8 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def plot_law_surfaces(r: Results, path: str) -> None:
    """Per benchmark: the fitted degree-2 Law over the (a, c) square, settings as labelled points
    coloured by their measured (normalised) result on the same colour scale."""
    law = r.law
    fig, axes = _grid(len(law.benchmarks))
    a, c = np.meshgrid(np.linspace(0, 1, 101), np.linspace(0, 1, 101))
    for ax, bench in zip(axes, law.benchmarks):
        z = law_surface(law.coefficients["deg2_AC"].loc[bench], a, c)
        # Normalised results lie in [0, 1]; far extrapolation would swamp the colour scale.
        levels = np.linspace(-0.2, 1.2, 15)
        cs = ax.contourf(a, c, np.clip(z, levels[0], levels[-1]), levels=levels, cmap="viridis")
        ax.scatter(r.settings["a"], r.settings["c"], c=law.y_normalised.loc[bench], cmap="viridis",
                   vmin=levels[0], vmax=levels[-1], edgecolors="white", s=45, zorder=3)
        for name, row in r.settings.iterrows():
            ax.annotate(name, (row["a"], row["c"]), fontsize=6, color="white", xytext=(3, 3),
                        textcoords="offset points")
        ax.set_title(f"{bench}  R² = {law.r2.loc[bench, 'deg2_AC']:.3f}", fontsize=10)
        ax.set_xlabel("a (normalised A)")
        ax.set_ylabel("c (normalised C)")
        fig.colorbar(cs, ax=ax, fraction=0.046)
    fig.suptitle("The Law: fitted benchmark score over alignment and correspondence")
    save_figure(fig, path)


def plot_recall_curves(curves, title: str, path: str) -> None:
    """Recall@1 (and the AC policies' Recall@3) over the budget, per benchmark and averaged;
    curves: benchmark ("average" too), sampler, budget, recall_at_1, recall_at_3."""
    names = [b for b in curves.benchmark.unique() if b != "average"] + ["average"]
    fig, axes = _grid(len(names))
    for ax, bench in zip(axes, names):
        for sampler, style in (("region", "-"), ("random", "--"), ("sequential", ":")):
            d = curves[(curves.benchmark == bench) & (curves.sampler == sampler)]
            if d.empty:
                continue
            ax.plot(d.budget, d.recall_at_1, style, marker="o", ms=3, label=f"{sampler} Recall@1")
            if sampler != "random":
                ax.plot(d.budget, d.recall_at_3, style, marker="s", ms=3, label=f"{sampler} Recall@3")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(bench, fontsize=10)
        ax.set_xlabel("budget k' (settings finetuned)")
        ax.set_ylabel("recall")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title)
    save_figure(fig, path)


def plot_recall(r: Results, path: str) -> None:
    plot_recall_curves(r.policy.curves, f"AC policy against random selection ({r.policy.runs} runs per budget)", path)


def plot_ac_scatter(r: Results, path: str) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 5))
    ax.scatter(r.settings["A"], r.settings["C"], s=40)
    for name, row in r.settings.iterrows():
        ax.annotate(name, (row["A"], row["C"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("A score (cross-modal alignment, higher is better)")
    ax.set_ylabel("C score (correspondence, PCK@0.1 %)")
    ax.set_title("Settings in the A-C plane")
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def _markdown_table(frame, fmt="{:.3f}") -> str:
    header = "| " + " | ".join([frame.index.name or ""] + [str(c) for c in frame.columns]) + " |"
    rule = "|" + "---|" * (len(frame.columns) + 1)
    lines = [header, rule]
    for idx, row in frame.iterrows():
        cells = [fmt.format(v) if isinstance(v, (float, np.floating)) else str(v) for v in row]
        lines.append("| " + " | ".join([str(idx)] + cells) + " |")
    return "\n".join(lines)


def build_report(results_path: str, out_dir: str) -> str:
    """Writes report.md and its PNGs into out_dir; returns the Markdown file's path."""
    r = load(results_path)
    os.makedirs(out_dir, exist_ok=True)
    md = [f"# acsweep report: {os.path.basename(results_path)}", ""]
    md.append(f"Table: `{r.attributes.get('table', '?')}`, {len(r.settings)} settings; file created "
              f"{r.attributes.get('created', '?')}, results version {r.attributes.get('version', '?')}.")
    md.append("")

    if r.law is not None:
        plot_law_surfaces(r, os.path.join(out_dir, "law_surfaces.png"))
        md += ["## The Law per benchmark", "", "![Law surfaces](law_surfaces.png)", "",
               "R² of the fit of each model (degree 2 and 1; on A and C together, A alone, C alone):", ""]
        r2 = r.law.r2[MODELS].copy()
        r2.index.name = "benchmark"
        md += [_markdown_table(r2), ""]
        groups = r.group_r2()
        if not groups.empty:
            groups.index.name = "group (mean R²)"
            md += [_markdown_table(groups[MODELS]), ""]
        w = r.law.coefficients["deg2_AC"].copy()
        w["A-C interaction"] = np.where(w["ac"] > 0, "synergy", "trade-off")
        w.index.name = "benchmark"
        md += ["Coefficients of the degree-2 Law on (a, c):", "", _markdown_table(w, "{:.4f}"), ""]

    if r.policy is not None:
        plot_recall(r, os.path.join(out_dir, "recall.png"))
        md += ["## The AC policy against random selection", "", "![Recall](recall.png)", ""]
        avg = r.policy.curves[r.policy.curves.benchmark == "average"]
        table = avg.pivot(index="budget", columns="sampler", values=["recall_at_1", "recall_at_3"])
        table.columns = [f"{s} {m.replace('recall_at_', 'Recall@')}" for m, s in table.columns]
        md += ["Recall averaged over benchmarks:", "", _markdown_table(table), ""]
        md += ["Best setting per benchmark: " +
               ", ".join(f"{b}: {s}" for b, s in r.policy.best.items()), ""]

    plot_ac_scatter(r, os.path.join(out_dir, "ac_scatter.png"))
    md += ["## Settings", "", "![A vs C](ac_scatter.png)", ""]
    path = os.path.join(out_dir, "report.md")
    with open(path, "w") as f:
        f.write("\n".join(md))
    return path
