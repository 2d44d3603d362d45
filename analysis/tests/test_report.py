"""The report from a results file that the C++ tool wrote: what load() reads equals an
independent NumPy fit of the table, and the report holds its tables and pictures."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from acsweep_analysis import build_report, load
from acsweep_analysis.results import GROUPS, MODELS, law_surface


@pytest.fixture(scope="module")
def results_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("results") / "results.h5"
    binary, table = os.environ["ACSWEEP_BIN"], os.environ["ACSWEEP_PAPER_TABLE"]
    for args in (["law", table], ["policy", table, "--budget", "all", "--runs", "300", "--seed", "3"]):
        subprocess.run([binary, *args, "--out", str(out)], check=True, capture_output=True, timeout=300)
    return str(out)


def normalise(x):
    x = np.asarray(x, dtype=float)
    return (x - x.min()) / (x.max() - x.min())


def test_load_reads_what_the_tool_computed(results_file):
    r = load(results_file)
    table = pd.read_csv(os.environ["ACSWEEP_PAPER_TABLE"])
    assert list(r.settings.index) == list(table["setting"])
    assert list(r.settings["encoder"]) == list(table["encoder"])
    np.testing.assert_allclose(r.settings["a"], normalise(table["A"]))
    a, c = normalise(table["A"]), normalise(table["C"])
    X = np.column_stack([np.ones_like(a), a, c, a * a, a * c, c * c])
    for bench in r.law.benchmarks:
        y = normalise(table[bench])
        w, *_ = np.linalg.lstsq(X, y, rcond=None)
        np.testing.assert_allclose(r.law.coefficients["deg2_AC"].loc[bench], w, rtol=1e-8, atol=1e-10)
        r2 = 1 - ((y - X @ w) ** 2).sum() / ((y - y.mean()) ** 2).sum()
        assert r.law.r2.loc[bench, "deg2_AC"] == pytest.approx(r2, rel=1e-10)
        # The surface the report draws passes through the fitted values at the settings.
        np.testing.assert_allclose(law_surface(r.law.coefficients["deg2_AC"].loc[bench], a, c),
                                   r.law.fitted["deg2_AC"].loc[bench], atol=1e-10)
    assert set(r.law.r2.columns) == set(MODELS)
    groups = r.group_r2()
    for name, members in GROUPS.items():
        assert groups.loc[name, "deg2_AC"] == pytest.approx(r.law.r2.loc[members, "deg2_AC"].mean())


def test_policy_curves_read_back(results_file):
    r = load(results_file)
    p = r.policy
    assert p.runs == 300
    curves = p.curves
    assert set(curves.sampler) == {"region", "random"}
    assert len(curves) == 2 * 15 * (len(p.benchmarks) + 1)
    full = curves[curves.budget == 15]
    assert (full.recall_at_1 == 1.0).all()
    random = curves[(curves.sampler == "random") & (curves.benchmark == "average")]
    # Random selection finds the best with probability k'/k; 300 runs x 8 benchmarks.
    np.testing.assert_allclose(random.recall_at_1, random.budget / 15, atol=0.06)


def test_report_has_tables_and_pictures(results_file, tmp_path):
    path = build_report(results_file, str(tmp_path / "report"))
    text = open(path).read()
    r = load(results_file)
    for picture in ("law_surfaces.png", "recall.png", "ac_scatter.png"):
        assert f"({picture})" in text
        with open(tmp_path / "report" / picture, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert f"| MMBench | {r.law.r2.loc['MMBench', 'deg2_AC']:.3f} |" in text
    assert "| vision |" in text and "| ocr |" in text
    assert "synergy" in text
    assert "Recall@1" in text


def test_command_line_entry_point(results_file, tmp_path):
    done = subprocess.run([sys.executable, "-m", "acsweep_analysis", "report", results_file,
                           "--out", str(tmp_path / "r")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r" / "report.md").exists()
    bad = subprocess.run([sys.executable, "-m", "acsweep_analysis", "report", str(tmp_path / "nope.h5")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "nope.h5" in bad.stderr
