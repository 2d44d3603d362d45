"""Read an acsweep results file into pandas objects. Only reads; never writes the file."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import h5py
import numpy as np
import pandas as pd

# The paper's benchmark groups (shared/spec/LAW.md).
GROUPS = {
    "vision": ["MMBench", "MME", "OKVQA", "SEED-Bench"],
    "ocr": ["MMMU", "TextVQA", "VizWiz", "ScienceQA"],
}
MODELS = [f"deg{d}_{f}" for d in (2, 1) for f in ("AC", "A", "C")]


def _strings(dataset) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in dataset[()]]


@dataclass
class LawFits:
    benchmarks: list[str]
    y_normalised: pd.DataFrame                     # benchmark x setting
    r2: pd.DataFrame                               # benchmark x model ("deg2_AC", ...)
    coefficients: dict[str, pd.DataFrame]          # model -> benchmark x term
    fitted: dict[str, pd.DataFrame]                # model -> benchmark x setting


@dataclass
class PolicyCurves:
    runs: int
    benchmarks: list[str]
    best: dict[str, str]
    curves: pd.DataFrame   # columns: benchmark ("average" too), sampler, budget, recall_at_1, recall_at_3


@dataclass
class Results:
    path: str
    attributes: dict
    settings: pd.DataFrame        # index: setting name; columns A, C, a, c and descriptive columns
    law: LawFits | None = None
    policy: PolicyCurves | None = None
    groups: dict = field(default_factory=dict)

    def group_r2(self) -> pd.DataFrame:
        """Mean R^2 per paper group whose benchmarks are all present; rows: group, columns: model."""
        rows = {}
        if self.law is not None:
            for name, members in GROUPS.items():
                if all(m in self.law.r2.index for m in members):
                    rows[name] = self.law.r2.loc[members].mean()
        return pd.DataFrame(rows).T


def load(path: str) -> Results:
    """Loads one results file. Sets HDF5_USE_FILE_LOCKING=FALSE if unset: reading from Lustre
    or NFS, where HDF5's file locks fail, must not need the writer's cooperation."""
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
    with h5py.File(path, "r") as f:
        attributes = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        names = _strings(f["settings/name"])
        settings = pd.DataFrame(index=pd.Index(names, name="setting"))
        settings["A"] = f["scores/A"][()]
        settings["C"] = f["scores/C"][()]
        settings["a"] = f["scores/a_normalised"][()]
        settings["c"] = f["scores/c_normalised"][()]
        for key in f["settings"]:
            if key != "name":
                settings[key] = _strings(f["settings"][key])
        results = Results(path=path, attributes=attributes, settings=settings)

        if "law" in f:
            g = f["law"]
            benchmarks = _strings(g["benchmarks"])
            y = pd.DataFrame(g["y_normalised"][()], index=benchmarks, columns=names)
            r2, coefficients, fitted = {}, {}, {}
            for model in MODELS:
                m = g[model]
                terms = _strings(m["terms"])
                r2[model] = m["r2"][()]
                coefficients[model] = pd.DataFrame(m["coefficients"][()], index=benchmarks, columns=terms)
                fitted[model] = pd.DataFrame(m["fitted"][()], index=benchmarks, columns=names)
            results.law = LawFits(benchmarks, y, pd.DataFrame(r2, index=benchmarks), coefficients, fitted)

        if "policy/simulation" in f:
            s = f["policy/simulation"]
            benchmarks = _strings(s["benchmarks"])
            samplers = _strings(s["samplers"])
            budgets = s["budgets"][()]
            r1, r3 = s["recall_at_1"][()], s["recall_at_3"][()]
            a1, a3 = s["average_recall_at_1"][()], s["average_recall_at_3"][()]
            rows = []
            for si, sampler in enumerate(samplers):
                for bi, budget in enumerate(budgets):
                    for b, bench in enumerate(benchmarks):
                        rows.append((bench, sampler, int(budget), r1[si, bi, b], r3[si, bi, b]))
                    rows.append(("average", sampler, int(budget), a1[si, bi], a3[si, bi]))
            curves = pd.DataFrame(rows, columns=["benchmark", "sampler", "budget", "recall_at_1", "recall_at_3"])
            best = dict(zip(benchmarks, _strings(s["best_setting_name"])))
            results.policy = PolicyCurves(int(s.attrs["runs"]), benchmarks, best, curves)
    return results


def law_surface(coefficients: pd.Series, a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """The degree-2 Law w00 + w10 a + w01 c + w20 a^2 + w11 ac + w02 c^2 on a grid."""
    w = coefficients
    return w["one"] + w["a"] * a + w["c"] * c + w["aa"] * a * a + w["ac"] * a * c + w["cc"] * c * c
