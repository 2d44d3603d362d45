"""Reading a run directory as one: segments merged, torn segments skipped and named."""

import os
import shutil
import subprocess

import numpy as np

from acsweep_analysis import load_run

QUICK = ["--set", "simulation.runs=200", "--set", "simulation.runs_per_task=40", "--set", "simulation.budgets=1,2,4"]


def run(job, *extra):
    subprocess.run([os.environ["ACSWEEP_BIN"], "run", str(job), *QUICK, *extra], check=True, capture_output=True,
                   timeout=300)


def make_job(tmp_path):
    shutil.copy(os.environ["ACSWEEP_PAPER_TABLE"], tmp_path / "paper.csv")
    job = tmp_path / "job.ini"
    job.write_text("[job]\nname = analysis-run\noutput = out\n[simulation]\ntables = paper.csv\n")
    return job


def test_segments_read_as_one_and_a_torn_segment_is_named(tmp_path):
    job = make_job(tmp_path)
    run(job)
    first = load_run(str(tmp_path / "out"))
    assert first.job == "analysis-run"
    assert len(first.tasks) == 30 and first.skipped == []
    reference = first.recall["paper"]

    # A segment torn by a crash: the next run rebuilds everything from the journals.
    segment = tmp_path / "out" / "segments" / "segment-0001.h5"
    segment.write_bytes(segment.read_bytes()[:2000])
    run(job, "--set", "simulation.budgets=1,2,4,5")
    merged = load_run(str(tmp_path / "out"))
    assert [state for _, state in merged.segments] == ["unreadable", "complete"]
    assert len(merged.skipped) == 1 and "segment-0001.h5" in merged.skipped[0][0]
    assert len(merged.tasks) == 40
    assert (merged.tasks.segment.isin([1, 2])).all()
    old = merged.recall["paper"][merged.recall["paper"].budget != 5].reset_index(drop=True)
    np.testing.assert_array_equal(old.recall_at_1, reference.recall_at_1)
    np.testing.assert_array_equal(old.recall_at_3, reference.recall_at_3)


def test_both_countings_reuse_the_exact_tasks_and_read_apart(tmp_path):
    job = make_job(tmp_path)
    run(job)
    reference = load_run(str(tmp_path / "out")).recall["paper"]
    run(job, "--set", "simulation.counting=both")
    both = load_run(str(tmp_path / "out"))
    assert len(both.tasks) == 60  # the exact tasks kept their hashes: only the first-hit ones are new
    np.testing.assert_array_equal(both.recall["paper"].recall_at_3, reference.recall_at_3)
    first_hit = both.recall_first_hit["paper"]
    assert len(first_hit) == len(reference)
    # First-hit counts the same runs' prefixes at every budget: its recall never falls with the budget.
    for _, curve in first_hit.groupby(["sampler", "benchmark"]):
        assert (curve.sort_values("budget").recall_at_3.diff().dropna() >= 0).all()
