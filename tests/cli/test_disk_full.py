"""A full disk or quota in the middle of a run (tests/fixtures/kill_during_write.c's disk-full mode:
writes to the chosen files cut short, then ENOSPC): the run ends with a clear error naming the
file, a non-zero exit and no crash; nothing half-written is taken for done (no complete segment,
no torn journal line), and once space is back the rerun resumes and gives the uninterrupted run's
numbers. Covered: the results segment (HDF5) and the journal of a policy sweep, and a Stage-1
projector and a Stage-2 checkpoint of a finetune."""

import json
import os
import subprocess
import time

import h5py
import numpy as np
import pytest

from test_run import QUICK, inspect, job, recall  # noqa: F401 (job is a fixture)
from test_scoring import FINETUNE, world, write_job  # noqa: F401 (world is a fixture)


def full_disk_run(job_path, out, where, after, *sets):
    """`acsweep run` whose writes to files under out/where stop after `after` bytes (then ENOSPC)."""
    env = dict(os.environ, LD_PRELOAD=os.environ["ACSWEEP_KILL_DURING_WRITE"], ACSWEEP_FULL_WRITING=str(out / where),
               ACSWEEP_FULL_AFTER=str(after))
    args = [os.environ["ACSWEEP_BIN"], "run", str(job_path), "--set", f"job.output={out}"]
    for s in sets:
        args += ["--set", s]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("where,after,names", [
    ("segments", 0, "segments/segment-0001.h5"),       # the first byte of the results file
    ("segments", 3000, "segments/segment-0001.h5"),    # inside its first rows
    ("journal", 0, "journal/segment-0001/rank-00000.jsonl"),
    ("journal", 3000, "journal/segment-0001/rank-00000.jsonl"),  # a line cut short
])
def test_a_full_disk_fails_naming_the_file_and_the_rerun_resumes(acsweep, job, tmp_path, where, after, names):
    reference = tmp_path / "reference"
    acsweep("run", job, *QUICK, "--set", f"job.output={reference}")
    out = tmp_path / "full"
    done = full_disk_run(job, out, where, after, *QUICK[1::2])
    assert done.returncode == 1, done.stderr
    assert str(out / names) in done.stderr and "Segmentation fault" not in done.stderr
    assert "No space left on device" in done.stderr or "file write failed" in done.stderr
    # Nothing half-written taken for done: no segment marked complete, every journal line whole.
    state = inspect(acsweep, out)
    assert state["segments"] and all(s["state"] != "complete" for s in state["segments"]), state["segments"]
    for journal in (out / "journal").rglob("*.jsonl"):
        text = journal.read_text()
        assert text == "" or text.endswith("\n")
        for line in text.splitlines():
            json.loads(line[9:])
    acsweep("run", job, *QUICK, "--set", f"job.output={out}")  # space is back
    assert inspect(acsweep, out)["tasks"]["pending"] == 0
    for got, want in zip(recall(out), recall(reference)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("where,after", [("stage1", 0), ("stage1", 4000), ("stage2", 20000)])
def test_a_full_disk_while_writing_a_projector_or_checkpoint(acsweep, world, tmp_path, where, after):
    job_path = write_job(world, FINETUNE, "full_disk.ini")
    out = tmp_path / "ft_full"
    done = full_disk_run(job_path, out, where, after, "job.max_attempts=1")
    assert done.returncode != 0 and "Segmentation fault" not in done.stderr
    assert str(out / where) in done.stderr and "write failed" in done.stderr
    # The checkpoint the disk cut short is no checkpoint: none is marked done without its files.
    for done_mark in (out / "stage2").glob("*/checkpoint-*/DONE"):
        assert (done_mark.parent / "manifest.json").is_file()
    acsweep("run", job_path, "--set", f"job.output={out}")
    assert not [p for p in out.rglob("*.tmp*") if "stage" in str(p)], "a cut file was left behind"
    with h5py.File(sorted((out / "segments").glob("segment-*.h5"))[-1], "r") as f:
        assert f.attrs["complete"] == 1 and np.all(np.isfinite(f["finetune/shapes"][()]))


def test_one_rank_failing_outside_a_task_ends_the_job_promptly(acsweep, job, tmp_path):
    # Rank 1's journal hits a full disk: its error ends that rank outside any task, while the
    # coordinator waits on it. The job must end, not hang, and the rerun lose nothing.
    from test_run import LONG, mpirun_cmd
    reference = tmp_path / "reference"
    acsweep("run", job, *LONG, "--set", f"job.output={reference}", ranks=3)
    out = tmp_path / "rank_full"
    env = dict(os.environ, LD_PRELOAD=os.environ["ACSWEEP_KILL_DURING_WRITE"],
               ACSWEEP_FULL_WRITING=str(out / "journal" / "segment-0001" / "rank-00001"), ACSWEEP_FULL_AFTER="2000")
    started = time.monotonic()
    done = subprocess.run(mpirun_cmd(3, "run", job, *LONG, "--set", f"job.output={out}"), env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and time.monotonic() - started < 60, done.stderr
    assert "rank 1: error: journal " + str(out / "journal" / "segment-0001" / "rank-00001.jsonl") in done.stderr
    acsweep("run", job, *LONG, "--set", f"job.output={out}", ranks=3)
    assert inspect(acsweep, out)["tasks"]["pending"] == 0
    for got, want in zip(recall(out), recall(reference)):
        np.testing.assert_array_equal(got, want)
