"""Read an `acsweep run` results directory (run.json, segments/, journal/) as one result.

Every segment holds a row per task of its plan; a resumed run carries earlier results into its
own new segment. Only segments that closed cleanly (complete, or stopped by a signal) are read:
a segment of a killed run may be torn, and its results are in the journals and in the segment
that resumed it. Segments left out are named in RunResults.skipped, never dropped silently."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import h5py
import numpy as np
import pandas as pd


@dataclass
class RunResults:
    path: str
    job: str
    tasks: pd.DataFrame                    # one row per task hash: name, kind, segment, rank, seconds, values
    recall: dict = field(default_factory=dict)   # table -> DataFrame(sampler, budget, benchmark, recall_at_1, recall_at_3)
    recall_first_hit: dict = field(default_factory=dict)  # the same, first-hit counted ([simulation] counting = both)
    segments: list = field(default_factory=list)  # (path, state)
    skipped: list = field(default_factory=list)   # (path, why)


def _strings(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def _recall_frame(s):
    """One /policy/<table>/simulation* group as a long table."""
    samplers, budgets = _strings(s["samplers"][()]), s["budgets"][()]
    benchmarks = _strings(s["benchmarks"][()])
    r1, r3 = s["recall_at_1"][()], s["recall_at_3"][()]
    return pd.DataFrame(
        [(samplers[a], int(budgets[b]), benchmarks[c], r1[a, b, c], r3[a, b, c])
         for a in range(len(samplers)) for b in range(len(budgets)) for c in range(len(benchmarks))],
        columns=["sampler", "budget", "benchmark", "recall_at_1", "recall_at_3"])


def segment_state(path: str) -> str:
    try:
        with h5py.File(path, "r") as f:
            if f.attrs.get("complete", 0) == 1:
                return "complete"
            return "stopped" if "stopped" in f.attrs else "incomplete"
    except OSError:
        return "unreadable"


def load_run(path: str) -> RunResults:
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")  # Lustre and NFS: see README
    with open(os.path.join(path, "run.json")) as f:
        job = json.load(f)["job"]
    files = sorted(p for p in os.listdir(os.path.join(path, "segments")) if p.endswith(".h5"))
    rows, recall, recall_first_hit, segments, skipped = {}, {}, {}, [], []
    for name in files:
        seg_path = os.path.join(path, "segments", name)
        state = segment_state(seg_path)
        segments.append((seg_path, state))
        if state in ("incomplete", "unreadable"):
            skipped.append((seg_path, f"{state}: the run that wrote it did not close it; its results are in "
                                      "the journals and in the segment of the run that resumed it"))
            continue
        with h5py.File(seg_path, "r") as f:
            t = f["tasks"]
            status = t["status"][()]
            names, hashes, kinds = _strings(t["name"][()]), _strings(t["hash"][()]), _strings(t["kind"][()])
            values = t["values"][()]
            for i in np.flatnonzero(status == 1):  # newer segments overwrite older ones
                rows[hashes[i]] = dict(name=names[i], hash=hashes[i], kind=kinds[i], segment=int(t["segment"][i]),
                                       rank=int(t["rank"][i]), seconds=float(t["seconds"][i]), values=values[i])
            if state == "complete" and "policy" in f:
                for table, group in f["policy"].items():
                    recall[table] = _recall_frame(group["simulation"])
                    if "simulation_first_hit" in group:
                        recall_first_hit[table] = _recall_frame(group["simulation_first_hit"])
    tasks = pd.DataFrame(list(rows.values()), columns=["name", "hash", "kind", "segment", "rank", "seconds", "values"])
    return RunResults(path, job, tasks, recall, recall_first_hit, segments, skipped)
