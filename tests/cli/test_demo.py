"""The demo end to end at reduced size: the world of scripts/make_world.py (--size test), the real
jobs/demo.ini with fewer settings and shorter training. One rank and five give the same scores,
the same sample and the same finetunes, policy and validation; the policy's fits equal a NumPy
least-squares fit of what the file holds; a run killed in Stage 2 and run again ends as an
uninterrupted one; the report builds. (CTest runs this file as cli.demo.)"""

import json
import os
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SETTINGS = "clip-p8; dino-p4; where-p8; diffusion-cnn; clip-p8+dino-p8; noisy-p4"
REDUCED = [f"search.settings={SETTINGS}", "job.budget=3", "a_score.n=16", "stage1.epochs=1", "stage2.epochs=1",
           "stage2.micro_batch=16"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_world.py"),
                    str(root / "results" / "demo" / "world"), "--size", "test"], check=True, timeout=600)
    (root / "jobs").mkdir()
    shutil.copy(os.path.join(ROOT, "jobs", "demo.ini"), root / "jobs" / "demo.ini")
    return root


def run(acsweep, demo, output, *sets, ranks=None):
    args = ["run", demo / "jobs" / "demo.ini"]
    for s in REDUCED + [f"job.output=../results/demo/{output}", *sets]:
        args += ["--set", s]
    return acsweep(*args, ranks=ranks)


def newest(out_dir):
    return h5py.File(sorted((out_dir / "segments").glob("segment-*.h5"))[-1], "r")


def strings(dataset):
    return [v.decode() for v in dataset[()]]


def policy_results(f):
    """Everything the policy decided, as comparable arrays."""
    out = {"A": f["scores/A"][()], "C": f["scores/C"][()], "sampled": strings(f["policy/sampled"]),
           "finetuned": strings(f["finetune/setting"])}
    for b in strings(f["finetune/benchmarks"]):
        out["finetune/" + b] = f["finetune/" + b][()]
        out["prediction/" + b] = f[f"policy/{b}/prediction"][()]
        out["ranking/" + b] = strings(f[f"policy/{b}/ranking"])
    return out


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], list):
            assert a[key] == b[key], key
        else:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def unit(x):
    x = np.asarray(x, dtype=float)
    return (x - x.min()) / (x.max() - x.min()) if x.max() > x.min() else np.zeros_like(x)


def law_prediction(A, C, rows, y):
    """The policy's prediction, in NumPy: min-max normalised A and C over all settings, the
    benchmark over the finetuned ones (`rows`, measured `y`), least squares (minimum norm when
    fewer points than the 6 terms); finetuned settings keep their measured value."""
    a_n, c_n = unit(A), unit(C)
    X = np.column_stack([np.ones_like(a_n), a_n, c_n, a_n * a_n, a_n * c_n, c_n * c_n])
    y = np.asarray(y, dtype=float)
    lo, span = y.min(), (y.max() - y.min()) or 1.0
    w = np.linalg.lstsq(X[rows], (y - lo) / span, rcond=None)[0]
    predicted = lo + span * (X @ w)
    predicted[rows] = y
    return predicted


def test_one_rank_equals_five_and_validation_judges_the_pick(acsweep, demo):
    one = run(acsweep, demo, "one", "job.validate=true")
    assert "the AC policy: 3 of 6 settings finetuned" in one.stdout and "validation:" in one.stdout
    assert "3 finetunes avoided (50% of the 6 settings scored); scoring a setting trains its projector alone" in one.stdout
    assert "fit on 3 finetuned for 6 coefficients: exact by construction" in one.stdout
    assert "leave-one-out error" in one.stdout and "R2 1.000" not in one.stdout  # 6 settings, 6 coefficients
    assert "A_similarity" not in one.stdout + one.stderr  # not configured: no column of NaN
    assert "phase score took" in one.stderr and "phase finetune took" in one.stderr
    five = run(acsweep, demo, "five", "job.validate=true", ranks=5)
    assert "rank 4:" in five.stderr and "idle" in five.stderr
    out = demo / "results" / "demo"
    with newest(out / "one") as a, newest(out / "five") as b:
        assert_same(policy_results(a), policy_results(b))
        np.testing.assert_array_equal(a["validation/simulation/recall_at_1"][()],
                                      b["validation/simulation/recall_at_1"][()])
        r = policy_results(a)
        names = strings(a["scores/setting"])
        assert len(set(r["sampled"])) == 3 and set(r["sampled"]) <= set(names)
        assert sorted(r["finetuned"]) == sorted(names)  # validation finetunes every setting

        # The policy's fit, again in NumPy, on the sampled settings (3 points, 6 terms).
        rows = [names.index(s) for s in r["sampled"]]
        for b in strings(a["finetune/benchmarks"]):
            y = [r["finetune/" + b][r["finetuned"].index(s)] for s in r["sampled"]]
            np.testing.assert_allclose(r["prediction/" + b], law_prediction(r["A"], r["C"], rows, y),
                                       rtol=1e-9, atol=1e-9)
            # 3 points for 6 coefficients: exact by construction, so the summary gives each point as
            # the fit on the other two predicts it (NumPy again), and marks predictions outside the
            # measured values as extrapolations.
            policy = a[f"policy/{b}"]
            assert policy.attrs["exact_by_construction"] == 1
            loo = [law_prediction(r["A"], r["C"], rows[:i] + rows[i + 1:], y[:i] + y[i + 1:])[rows[i]]
                   for i in range(len(rows))]
            np.testing.assert_allclose(policy["loo_prediction"][()], loo, rtol=1e-9, atol=1e-9)
            np.testing.assert_allclose(policy.attrs["loo_mean_abs_error"], np.mean(np.abs(np.array(loo) - y)),
                                       rtol=1e-9)
            outside = (r["prediction/" + b] > max(y)) | (r["prediction/" + b] < min(y))
            outside[rows] = False
            np.testing.assert_array_equal(policy["extrapolated"][()], outside.astype(np.int64))
            # The validation's truth is the best measured setting.
            measured = np.array([r["finetune/" + b][r["finetuned"].index(s)] for s in names])
            judged = strings(a["validation/benchmark"])
            if b in judged:
                assert strings(a["validation/best_setting"])[judged.index(b)] == names[int(np.argmax(measured))]
    assert (out / "one" / "measured.csv").exists() or "too little variation" in one.stdout
    # The report of the validation run: the measured Law beside the policy's fit, and fits on no
    # more settings than coefficients called exact rather than given an R² of 1.
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "analysis"), MPLBACKEND="Agg")
    subprocess.run([sys.executable, "-m", "acsweep_analysis", "sweep", str(out / "one"), "--out",
                    str(out / "one_report")], check=True, env=env, timeout=300)
    report = (out / "one_report" / "report.md").read_text()
    assert "exact by construction, leave-one-out error" in report and "1 by construction" in report
    assert (out / "one_report" / "law_measured.png").stat().st_size > 0


def test_known_results_count_as_finetuned(acsweep, demo):
    """[known]: two settings' results, one from a table and one from an lmms-eval file, are not
    finetuned, count as already sampled (the policy draws one more for a budget of 3), and enter
    the fit with the values given (not the ones the validation run measured)."""
    out = demo / "results" / "demo"
    shutil.copytree(out / "one", out / "given")  # the validation run: every score and finetune carries
    with newest(out / "one") as f:
        r = policy_results(f)
        names = strings(f["scores/setting"])
        benchmarks = strings(f["finetune/benchmarks"])
    by_table, by_lmms = [s for s in names if s not in r["sampled"]][:2]
    given = {s: [r["finetune/" + b][r["finetuned"].index(s)] + 1.0 for b in benchmarks] for s in (by_table, by_lmms)}
    (out / "known.csv").write_text("setting,A," + ",".join(benchmarks) + "\n" + by_table + ",-1," +
                                   ",".join(repr(float(v)) for v in given[by_table]) + "\n")
    (out / "lmms.json").write_text(json.dumps(
        {"results": {"world": {f"{b},none": v / 100 for b, v in zip(benchmarks, given[by_lmms])}}}))
    done = run(acsweep, demo, "given", "known.table=../results/demo/known.csv",
               f"known.lmms_eval={by_lmms}:../results/demo/lmms.json",
               "known.lmms_eval_metrics=" + "; ".join(f"{b}:world/{b},none*100" for b in benchmarks))
    assert "the AC policy: 3 of 6 settings finetuned (2 of them known before)" in done.stdout
    assert "phase finetune: 1 tasks, 1 done earlier, 0 to run" in done.stderr
    with newest(out / "given") as f:
        known = strings(f["policy/known"])
        assert known == [s for s in names if s in (by_table, by_lmms)]  # in [search] order
        assert strings(f["known/setting"]) == known
        for i, b in enumerate(benchmarks):
            np.testing.assert_allclose(f["known/" + b][()], [given[s][i] for s in known], rtol=1e-12)
        drawn = strings(f["policy/sampled"])
        assert len(drawn) == 1 and drawn[0] not in known
        # Known settings hold their cells: at level 1 (2 x 2) the draw avoids the cells they hold,
        # unless they hold every occupied cell.
        A, C = f["scores/A"][()], f["scores/C"][()]
        cell = [(min(int(a * 2), 1), min(int(c * 2), 1)) for a, c in zip(unit(A), unit(C))]
        held = {cell[names.index(s)] for s in known}
        if set(cell) - held:
            assert cell[names.index(drawn[0])] not in held
        rows = [names.index(s) for s in known + drawn]
        for i, b in enumerate(benchmarks):
            y = [f["known/" + b][j] for j in range(len(known))] + [r["finetune/" + b][r["finetuned"].index(drawn[0])]]
            np.testing.assert_allclose(f[f"policy/{b}/prediction"][()], law_prediction(A, C, rows, y),
                                       rtol=1e-9, atol=1e-9)
            assert list(f[f"policy/{b}/measured"][()]) == y
    report = out / "given_report"
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "analysis"), MPLBACKEND="Agg")
    subprocess.run([sys.executable, "-m", "acsweep_analysis", "sweep", str(out / "given"), "--out", str(report)],
                   check=True, env=env, timeout=300)
    assert "known" in (report / "report.md").read_text()  # the settings table marks them


def test_killed_in_stage_2_then_rerun_equals_an_uninterrupted_run(acsweep, demo, kill_tree, wait_until_unlocked):
    out = demo / "results" / "demo"
    longer = ["stage2.epochs=2", "stage2.micro_batch=8", "stage2.checkpoint_every=2", "layout.groups=2"]
    run(acsweep, demo, "whole", *longer, ranks=3)
    cmd = [os.environ["ACSWEEP_MPIEXEC"], os.environ["ACSWEEP_MPIEXEC_NUMPROC_FLAG"], "3", "--oversubscribe",
           os.environ["ACSWEEP_BIN"], "run", str(demo / "jobs" / "demo.ini")]
    for s in REDUCED + longer + ["job.output=../results/demo/killed"]:
        cmd += ["--set", s]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not list((out / "killed" / "stage2").glob("*/checkpoint-*/DONE")) and time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before its first Stage-2 checkpoint"
        time.sleep(0.05)
    kill_tree(process.pid)  # mid Stage 2: scores done, finetunes under way
    process.wait()
    wait_until_unlocked(out / "killed")
    again = run(acsweep, demo, "killed", *longer)  # one rank this time
    assert "resumed from the checkpoint of step" in again.stderr
    with newest(out / "whole") as a, newest(out / "killed") as b:
        assert_same(policy_results(a), policy_results(b))


def test_the_report_builds_from_the_demo(acsweep, demo):
    out = demo / "results" / "demo" / "report"
    run(acsweep, demo, "reported")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "analysis"), MPLBACKEND="Agg")
    subprocess.run([sys.executable, "-m", "acsweep_analysis", "sweep", str(demo / "results" / "demo" / "reported"),
                    "--out", str(out)], check=True, env=env, timeout=300)
    text = (out / "report.md").read_text()
    for section in ("## Settings", "## The AC policy", "## Finetuned settings", "## Time"):
        assert section in text
    for picture in ("ac_plane.png", "law_fits.png", "ranks.png"):
        assert (out / picture).stat().st_size > 1000
