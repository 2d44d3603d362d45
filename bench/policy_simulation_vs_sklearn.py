#!/usr/bin/env python3
"""The AC-policy simulation in acsweep against the same simulation written the way researchers
write it in Python (scikit-learn PolynomialFeatures + LinearRegression per fit), side by side on
one core: all budgets, R runs, every benchmark of the table. Prints both times, the ratio, and
whether every recall number agrees.

The reference replays acsweep's random streams (SplitMix64, seeds derived from (seed, sampler,
budget, run)) and re-implements region-based sampling from shared/spec/LAW.md, so the two must
agree exactly, not only within Monte-Carlo error. LinearRegression runs with fit_intercept=False
on PolynomialFeatures' bias column: that makes its LAPACK lstsq the minimum-norm solution over
all six coefficients, as LAW.md asks (with fit_intercept=True the intercept would be left out of
the norm and under-determined fits would differ).

With --counting first-hit it replays the paper's counting instead (AC_sample.py, LAW.md): one
region-sampled sequence per run from the stream (seed, sampler, 0, run), the Law refitted after
every draw, the run's value its first hit. tests/cli/test_policy_reference.py runs both countings
with a few runs as a golden test.

    .venv/bin/python bench/policy_simulation_vs_sklearn.py [--runs 1000] [--table T] [--acsweep B]
                                                           [--counting exact|first-hit]
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression
from sklearn.preprocessing import PolynomialFeatures

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class SplitMix64:
    def __init__(self, seed):
        self.state = seed

    def below(self, n):
        threshold = (2**64 - n) % n
        while True:
            self.state = (self.state + GOLDEN) & MASK
            x = mix(self.state)
            if x >= threshold:
                return x % n


def derive_seed(seed, path):
    h = mix(seed)
    for x in path:
        h = mix(h ^ mix((x + GOLDEN) & MASK))
    return h


def region_sample(a, c, budget, rng):
    """LAW.md: levels of 4^j cells, empty and sampled cells dropped, a random cell, then a random
    setting in it; cells in (a, c) order, members in table order."""
    n = len(a)
    taken = [False] * n
    drawn = []
    level = 1
    while len(drawn) < budget:
        if level > 32:
            rest = [i for i in range(n) if not taken[i]]
            while len(drawn) < budget:
                pick = rest.pop(rng.below(len(rest)))
                taken[pick] = True
                drawn.append(pick)
            break
        cells = 1 << level
        groups = {}
        for i in range(n):
            key = (min(math.floor(a[i] * cells), cells - 1), min(math.floor(c[i] * cells), cells - 1))
            groups.setdefault(key, []).append(i)
        open_cells = [m for _, m in sorted(groups.items()) if not any(taken[i] for i in m)]
        while open_cells and len(drawn) < budget:
            members = open_cells.pop(rng.below(len(open_cells)))
            pick = members[rng.below(len(members))]
            taken[pick] = True
            drawn.append(pick)
        level += 1
    return drawn


def position_of_best(ac, y, drawn, best):
    """Where the truly best setting ranks once the Law is fitted on `drawn` (drawn settings keep
    their measured values; ties go to the setting listed first)."""
    k = len(y)
    poly = PolynomialFeatures(degree=2)
    model = LinearRegression(fit_intercept=False).fit(poly.fit_transform(ac[drawn]), y[drawn])
    score = model.predict(poly.transform(ac))
    score[drawn] = y[drawn]
    s = score[best]
    return int(np.sum(score > s) + np.sum((score == s) & (np.arange(k) < best)))


def shuffle_prefix(k, length, rng):
    order = list(range(k))
    for i in range(length):
        j = i + rng.below(k - i)
        order[i], order[j] = order[j], order[i]
    return order[:length]


def simulate(table, runs, seed, counting="exact"):
    norm = lambda x: (x - x.min()) / (x.max() - x.min())
    a, c = norm(table["A"].to_numpy(float)), norm(table["C"].to_numpy(float))
    benchmarks = list(table.columns[table.columns.get_loc("C") + 1:])
    y = {b: norm(table[b].to_numpy(float)) for b in benchmarks}
    best = {b: int(np.argmax(y[b])) for b in benchmarks}
    k = len(a)
    ac = np.column_stack([a, c])
    hits = {}  # (sampler, budget, benchmark) -> [at 1, at 3]
    for sampler_id, sampler in enumerate(("region", "random")):
        for budget in range(1, k + 1):
            for b in benchmarks:
                hits[(sampler, budget, b)] = [0, 0]
        if counting == "first-hit":
            for run in range(runs):
                rng = SplitMix64(derive_seed(seed, (sampler_id, 0, run)))
                drawn = shuffle_prefix(k, k, rng) if sampler == "random" else region_sample(a, c, k, rng)
                for b in benchmarks:
                    first = [k + 1, k + 1]  # the first draw i after which best[b] is in the top 1, 3
                    for i in range(1, k + 1):
                        if sampler == "random" or i == 1:  # only drawing the best itself hits
                            position = 0 if best[b] in drawn[:i] else k
                        else:
                            position = position_of_best(ac, y[b], drawn[:i], best[b])
                        for n, top in enumerate((1, 3)):
                            if first[n] > k and position < top:
                                first[n] = i
                    for budget in range(1, k + 1):
                        hits[(sampler, budget, b)][0] += first[0] <= budget
                        hits[(sampler, budget, b)][1] += first[1] <= budget
            continue
        for budget in range(1, k + 1):
            for run in range(runs):
                rng = SplitMix64(derive_seed(seed, (sampler_id, budget, run)))
                if sampler == "random":
                    chosen = set(shuffle_prefix(k, budget, rng))
                    for b in benchmarks:
                        hit = best[b] in chosen
                        hits[(sampler, budget, b)][0] += hit
                        hits[(sampler, budget, b)][1] += hit
                    continue
                sampled = region_sample(a, c, budget, rng)
                for b in benchmarks:
                    position = position_of_best(ac, y[b], sampled, best[b])
                    hits[(sampler, budget, b)][0] += position < 1
                    hits[(sampler, budget, b)][1] += position < 3
    return {key: (v[0] / runs, v[1] / runs) for key, v in hits.items()}


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--table", default=os.path.join(root, "jobs/data/law_paper_vicuna7b_15.csv"))
    parser.add_argument("--acsweep", default=os.path.join(root, "build/src/acsweep"))
    parser.add_argument("--counting", choices=("exact", "first-hit"), default="exact")
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"

    start = time.perf_counter()
    done = subprocess.run(["taskset", "-c", "0", args.acsweep, "policy", args.table, "--budget", "all",
                           "--runs", str(args.runs), "--seed", str(args.seed), "--counting", args.counting, "--json"],
                          capture_output=True, text=True, check=True)
    cpp_process = time.perf_counter() - start
    cpp_compute = float(re.search(r"in ([0-9.]+) s", done.stderr).group(1))
    doc = json.loads(done.stdout)

    os.sched_setaffinity(0, {0})
    table = pd.read_csv(args.table)
    start = time.perf_counter()
    reference = simulate(table, args.runs, args.seed, args.counting)
    python_s = time.perf_counter() - start

    mismatches, worst = 0, 0.0
    for bench, entry in doc["benchmarks"].items():
        for p in entry["curve"]:
            r1, r3 = reference[(p["sampler"], p["budget"], bench)]
            diff = max(abs(r1 - p["recall_at_1"]), abs(r3 - p["recall_at_3"]))
            worst = max(worst, diff)
            mismatches += diff != 0
    cells = sum(len(e["curve"]) for e in doc["benchmarks"].values())
    print(f"table: {args.table}, {len(table)} settings, {len(doc['benchmarks'])} benchmarks, "
          f"{args.runs} runs x {len(table)} budgets x 2 samplers, {args.counting} counting, one core")
    print(f"python + scikit-learn     : {python_s:10.3f} s")
    ratio = f"ratio {python_s / cpp_compute:8.0f}x" if cpp_compute > 0 else "(too short to time)"
    print(f"acsweep, simulation only  : {cpp_compute:10.3f} s   {ratio}")
    print(f"acsweep, whole process    : {cpp_process:10.3f} s   ratio {python_s / cpp_process:8.0f}x "
          "(includes MPI and LibTorch start-up)")
    verdict = "agree exactly" if mismatches == 0 else f"DIFFER in {mismatches} of {cells} (max {worst:.4f})"
    print(f"recall numbers            : {verdict}")
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
