"""acsweep law / policy end to end: JSON shape, numbers against an independent NumPy fit,
bad input (exit 2, a message naming file, column and row, nothing written), rank counts."""

import json
import os
import pathlib
import re
import shutil
import subprocess

import h5py
import numpy as np
import pandas as pd
import pytest

TERMS = {
    (2, "AC"): ["one", "a", "c", "aa", "ac", "cc"],
    (1, "AC"): ["one", "a", "c"],
    (2, "A"): ["one", "a", "aa"],
    (1, "A"): ["one", "a"],
    (2, "C"): ["one", "c", "cc"],
    (1, "C"): ["one", "c"],
}
BENCHMARKS = ["MMBench", "MME", "MMMU", "OKVQA", "TextVQA", "VizWiz", "ScienceQA", "SEED-Bench"]


def normalise(x):
    x = np.asarray(x, dtype=float)
    return (x - x.min()) / (x.max() - x.min())


def numpy_fit(a, c, y, degree, features):
    """Reference: LAPACK's minimum-norm least squares (gelsd) on columns built term by term."""
    columns = {"one": np.ones_like(a), "a": a, "c": c, "aa": a * a, "ac": a * c, "cc": c * c}
    X = np.column_stack([columns[t] for t in TERMS[(degree, features)]])
    w, *_ = np.linalg.lstsq(X, y, rcond=None)
    fitted = X @ w
    r2 = 1 - ((y - fitted) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    return w, fitted, r2


@pytest.mark.parametrize("degree,features", sorted(TERMS))
def test_law_json_matches_numpy(acsweep, paper_table, degree, features):
    out = acsweep("law", paper_table, "--json", "--degree", degree, "--features", features).stdout
    doc = json.loads(out)  # exactly one JSON document: json.loads rejects trailing text
    assert list(doc) == ["degree", "features", "benchmarks", "groups"]
    assert doc["degree"] == degree and doc["features"] == features
    table = pd.read_csv(paper_table)
    a, c = normalise(table["A"]), normalise(table["C"])
    assert list(doc["benchmarks"]) == BENCHMARKS
    for bench, fit in doc["benchmarks"].items():
        w, fitted, r2 = numpy_fit(a, c, normalise(table[bench]), degree, features)
        assert fit["n"] == 15
        assert list(fit["coefficients"]) == TERMS[(degree, features)]
        np.testing.assert_allclose(list(fit["coefficients"].values()), w, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fit["fitted"], fitted, rtol=1e-8, atol=1e-10)
        assert fit["r2"] == pytest.approx(r2, rel=1e-10)
    for group, members in {"vision": ["MMBench", "MME", "OKVQA", "SEED-Bench"],
                           "ocr": ["MMMU", "TextVQA", "VizWiz", "ScienceQA"]}.items():
        mean = np.mean([doc["benchmarks"][m]["r2"] for m in members])
        assert doc["groups"][group]["r2"] == pytest.approx(mean, rel=1e-12)


def test_law_groups_only_when_complete(acsweep, paper_table):
    doc = json.loads(acsweep("law", paper_table, "--json", "--benchmarks", "MME,TextVQA").stdout)
    assert list(doc["benchmarks"]) == ["MME", "TextVQA"]
    assert doc["groups"] == {}


def test_law_text_table(acsweep, paper_table):
    out = acsweep("law", paper_table).stdout
    assert "MMBench" in out and "synergy" in out and "mean R2 over the vision benchmarks" in out


def test_policy_json_shape_and_invariants(acsweep, paper_table):
    doc = json.loads(acsweep("policy", paper_table, "--budget", "all", "--runs", "200", "--seed", "5",
                             "--json").stdout)
    assert doc["runs"] == 200 and doc["seed"] == 5
    assert list(doc["benchmarks"]) == BENCHMARKS
    table = pd.read_csv(paper_table)
    for bench, entry in doc["benchmarks"].items():
        assert entry["best"] == table["setting"][table[bench].idxmax()]
        curve = entry["curve"]
        assert len(curve) == 2 * 15
        for point in curve:
            assert set(point) == {"budget", "sampler", "recall_at_1", "recall_at_3"}
            assert 0 <= point["recall_at_1"] <= point["recall_at_3"] <= 1
        full = [p for p in curve if p["budget"] == 15]
        assert all(p["recall_at_1"] == 1.0 for p in full)
    assert len(doc["average"]) == 30


def test_policy_first_hit_counting(acsweep, paper_table, tmp_path):
    """The paper's counting (AC_sample.py): labelled in the JSON, the report and the results file;
    its recall never falls as k' grows, random selection's is k'/k, and the same at 1 and 2 ranks."""
    args = ("policy", paper_table, "--budget", "all", "--runs", "400", "--seed", "3", "--counting", "first-hit")
    text = acsweep(*args, "--json").stdout
    doc = json.loads(text)
    assert doc["counting"] == "first-hit" and doc["fit"] == "ols"
    ridge = json.loads(acsweep("policy", paper_table, "--budget", "5", "--runs", "50", "--fit", "ridge",
                               "--json").stdout)
    assert ridge["fit"] == "ridge" and 0 <= ridge["average"][0]["recall_at_3"] <= 1
    assert json.loads(acsweep("policy", paper_table, "--budget", "2", "--runs", "10", "--json").stdout)[
        "counting"] == "exact"
    for sampler in ("region", "random"):
        curve = [p for p in doc["average"] if p["sampler"] == sampler]
        at3 = [p["recall_at_3"] for p in curve]
        assert at3 == sorted(at3) and curve[-1]["recall_at_1"] == 1.0
        if sampler == "random":
            for p in curve:
                assert abs(p["recall_at_1"] - p["budget"] / 15) <= 4 * (p["budget"] / 15 * (1 - p["budget"] / 15) / 400) ** 0.5 + 1e-9
    assert acsweep(*args, "--json", ranks=2).stdout == text
    assert "first-hit counting, as the paper's AC_sample.py" in acsweep(*args).stdout
    out = tmp_path / "first_hit.h5"
    acsweep(*args, "--out", out)
    with h5py.File(out, "r") as f:
        assert f["policy/simulation"].attrs["counting"] == "first-hit"


def test_policy_sequential_sampler(acsweep, paper_table, tmp_path):
    """--sampler all: the three side by side, each as it is alone, the same at 1 and 2 ranks, and
    labelled in the results file."""
    args = ("policy", paper_table, "--budget", "all", "--runs", "20", "--counting", "both")
    text = acsweep(*args, "--sampler", "all", "--json").stdout
    doc = json.loads(text)
    for counting, run in doc["countings"].items():
        assert [p["sampler"] for p in run["average"]] == ["region"] * 15 + ["random"] * 15 + ["sequential"] * 15
        alone = json.loads(acsweep(*args[:-1], counting, "--sampler", "sequential", "--json").stdout)
        assert alone["average"] == run["average"][30:]
        assert alone["average"][-1]["recall_at_1"] == 1.0
    assert acsweep(*args, "--sampler", "all", "--json", ranks=2).stdout == text
    acsweep(*args, "--sampler", "all", "--out", tmp_path / "all.h5")
    with h5py.File(tmp_path / "all.h5", "r") as f:
        assert [s.decode() if isinstance(s, bytes) else s for s in f["policy/simulation/samplers"][()]] == [
            "region", "random", "sequential"]


def test_policy_counts_both_ways_in_one_run(acsweep, paper_table, tmp_path):
    """LAW.md: both countings reported and labelled; each as its own run gives it."""
    args = ("policy", paper_table, "--budget", "all", "--runs", "200")
    both = json.loads(acsweep(*args, "--counting", "both", "--json", "--out", tmp_path / "both.h5").stdout)
    assert list(both["countings"]) == ["exact", "first-hit"]
    for counting in ("exact", "first-hit"):
        assert both["countings"][counting] == json.loads(acsweep(*args, "--counting", counting, "--json").stdout)
    with h5py.File(tmp_path / "both.h5", "r") as f:
        assert f["policy/simulation"].attrs["counting"] == "exact"
        assert f["policy/simulation_first_hit"].attrs["counting"] == "first-hit"
        average = both["countings"]["first-hit"]["average"]
        region = [p["recall_at_3"] for p in average if p["sampler"] == "region"]
        np.testing.assert_allclose(f["policy/simulation_first_hit/average_recall_at_3"][0], region)
    text = acsweep(*args, "--counting", "both").stdout
    assert "(exact counting)" in text and "(first-hit counting" in text


def test_policy_same_numbers_at_1_2_4_ranks(acsweep, paper_table):
    args = ("policy", paper_table, "--budget", "all", "--runs", "97", "--seed", "11", "--json")
    reference = acsweep(*args).stdout
    for ranks in (1, 2, 4):
        assert acsweep(*args, ranks=ranks).stdout == reference, f"{ranks} ranks"


def test_policy_seed_changes_region_numbers(acsweep, paper_table):
    args = ("policy", paper_table, "--budget", "4", "--runs", "100", "--sampler", "region", "--json")
    one = json.loads(acsweep(*args, "--seed", "1").stdout)
    two = json.loads(acsweep(*args, "--seed", "2").stdout)
    assert one["average"] != two["average"]


BAD_TABLES = {
    "missing_column": ("setting,A,MME\ns1,1,2\ns2,2,3\n", "missing column 'C'"),
    "non_numeric": ("setting,A,C,MME\ns1,1,2,3\ns2,2,three,4\n", "line 3 (setting 's2'), column 'C': 'three' is not a number"),
    "nan_cell": ("setting,A,C,MME\ns1,1,2,NaN\ns2,2,3,4\n", "line 2 (setting 's1'), column 'MME': 'NaN' is not a finite number"),
    "constant": ("setting,A,C,MME\ns1,1,2,3\ns2,1,3,4\n", "column 'A' holds the same value"),
    "one_setting": ("setting,A,C,MME\ns1,1,2,3\n", "1 setting(s); the Law needs at least 2"),
    "duplicate": ("setting,A,C,MME\ns1,1,2,3\ns1,2,3,4\n", "line 3: setting 's1' already appears on line 2"),
}


@pytest.mark.parametrize("case", sorted(BAD_TABLES))
@pytest.mark.parametrize("command", [("law",), ("policy", "--budget", "1")])
def test_bad_tables_exit_2_naming_the_problem(acsweep, tmp_path, case, command):
    text, message = BAD_TABLES[case]
    table = tmp_path / f"{case}.csv"
    table.write_text(text)
    out = tmp_path / "results.h5"
    done = acsweep(command[0], table, *command[1:], "--json", "--out", out, check=False)
    assert done.returncode == 2
    assert str(table) in done.stderr and message in done.stderr, done.stderr
    assert done.stdout == ""
    assert not out.exists()


@pytest.mark.parametrize("args,message", [
    (("law", "{t}", "--benchmarks", "MME,Nope"), "unknown benchmark 'Nope'"),
    (("policy", "{t}", "--budget", "16"), "--budget 16 is larger than the 15 settings"),
    (("policy", "{t}", "--budget", "0"), "--budget must be a whole number from 1"),
    (("policy", "{t}"), "--budget is required"),
    (("policy", "{t}", "--budget", "2", "--sampler", "grid"), "--sampler must be region, random, sequential, both or all"),
    (("policy", "{t}", "--budget", "2", "--counting", "last"), "--counting must be exact, first-hit or both, not 'last'"),
    (("policy", "{t}", "--budget", "2", "--fit", "lasso"), "--fit must be ols or ridge, not 'lasso'"),
    (("law", "{t}", "--degree", "3"), "degree must be 1 or 2"),
    (("law", "/nonexistent/table.csv"), "/nonexistent/table.csv: cannot open"),
    (("law", "{t}", "--no-such-option"), "unrecognised option"),
    # Boost's placeholders in the input are quoted once (they once made the message loop forever).
    (("policy", "{t}", "--runs", "x%value%"), "the argument ('x%value%') for option '--runs' is invalid"),
    (("law", "{t}", "--x%canonical_option%"), "unrecognised option '--x%canonical_option%'"),
    (("frobnicate",), "unknown command 'frobnicate'"),
])
def test_bad_options_exit_2(acsweep, paper_table, args, message):
    done = acsweep(*[a.format(t=paper_table) for a in args], check=False)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr, done.stderr


def test_out_refuses_another_table_and_keeps_the_file(acsweep, paper_table, tmp_path):
    out = tmp_path / "results.h5"
    acsweep("law", paper_table, "--out", out)
    before = out.read_bytes()
    other = tmp_path / "other.csv"
    other.write_text("setting,A,C,MME\nx,1,2,3\ny,2,3,4\n")
    done = acsweep("law", other, "--out", out, check=False)
    assert done.returncode == 2 and "holds results of another table" in done.stderr
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.csv", "results.h5"]


def test_unwritable_out_exits_1_and_says_where(acsweep, paper_table, tmp_path):
    done = acsweep("law", paper_table, "--out", tmp_path / "no" / "such" / "r.h5", check=False)
    assert done.returncode == 1
    assert "no/such/r.h5" in done.stderr


def test_a_file_that_is_no_table_is_refused_at_once(acsweep, tmp_path):
    """/dev/zero was read to 16 GB; a dump or a device ends at the byte and line bounds."""
    done = acsweep("law", "/dev/zero", check=False)
    assert done.returncode == 2 and "/dev/zero: more than 64 MiB; a table of settings is far smaller" in done.stderr
    long_line = tmp_path / "long.csv"
    long_line.write_text("setting,A,C,MME\ns1,1,2,3\ns2," + "1" * (2 << 20) + ",3,4\n")
    done = acsweep("law", long_line, check=False)
    assert done.returncode == 2 and f"{long_line}:3: a line longer than 1024 KiB" in done.stderr, done.stderr


def test_policy_on_a_huge_table_is_refused_naming_the_cost(acsweep, tmp_path):
    """--budget all on 20000 settings is 20000 budgets of fits over every setting: refused at once,
    with what it would cost and what to change; the Law itself fits such a table in a moment."""
    rng = np.random.default_rng(0)
    table = tmp_path / "huge.csv"
    a, c = rng.random(20000), rng.random(20000)
    pd.DataFrame({"setting": [f"s{i}" for i in range(20000)], "A": a, "C": c, "MME": a + c,
                  "MMBench": a * c}).to_csv(table, index=False)
    done = acsweep("policy", table, "--budget", "all", check=False)
    assert done.returncode == 2, done.stderr
    assert re.search(rf"{table}: 20000 budget\(s\) up to 20000 of 20000 settings, 1000 runs, 2 sampler\(s\) and 2 "
                     r"benchmark\(s\) are about [\d.]+e\+12 setting evaluations \(at 5e\+07 a second per core, \d+ "
                     r"core-hours\): give fewer budgets", done.stderr), done.stderr
    assert acsweep("policy", table, "--budget", "8", "--runs", "20").returncode == 0
    assert json.loads(acsweep("law", table, "--json").stdout)


def test_version_names_the_libraries(acsweep):
    out = acsweep("version").stdout
    for word in ("acsweep", "MPI:", "HDF5:", "(parallel)", "LibTorch: 2.", "NCCL:"):
        assert word in out
    assert "world of 1, no launcher: MPI not started" in out
    assert "world of 2)" in acsweep("version", ranks=2).stdout


def test_version_runtime_loads_libtorch(acsweep):
    """--runtime continues in acsweep-torch, which reports what the loaded LibTorch finds."""
    out = acsweep("version", "--runtime").stdout
    assert re.search(r"LibTorch: 2\.\d+\.\d+.*, \d+ intra-op threads, CUDA (not )?available", out), out
    assert "world of 1)" in out  # acsweep-torch always starts MPI
    assert "world of 2)" in acsweep("version", "--runtime", ranks=2).stdout


def test_model_free_commands_link_no_libtorch(acsweep):
    """What keeps law, policy, inspect and version quick to start (bench/startup.sh)."""
    libraries = subprocess.run(["ldd", os.environ["ACSWEEP_BIN"]], capture_output=True, text=True,
                               check=True).stdout
    assert "libtorch" not in libraries and "libc10" not in libraries, libraries
    torch_libraries = subprocess.run(["ldd", str(pathlib.Path(os.environ["ACSWEEP_BIN"]).with_name(
        "acsweep-torch"))], capture_output=True, text=True, check=True).stdout
    assert "libtorch" in torch_libraries


def test_run_without_acsweep_torch_says_what_is_missing(tmp_path):
    alone = tmp_path / "acsweep"
    shutil.copy(os.environ["ACSWEEP_BIN"], alone)
    done = subprocess.run([alone, "run", "job.ini"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"cannot start {tmp_path / 'acsweep-torch'}" in done.stderr
    assert "needs LibTorch" in done.stderr
    # what needs no model still works there
    assert subprocess.run([alone, "version"], capture_output=True, timeout=60).returncode == 0


def test_version_refuses_unknown_options(acsweep):
    done = acsweep("version", "--bogus", check=False)
    assert done.returncode == 2 and "--bogus" in done.stderr
