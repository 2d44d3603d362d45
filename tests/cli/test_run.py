"""acsweep run end to end: the plan, bad job files, rank counts, kill -9 and resume, SIGUSR1,
job identity and changed definitions. Results are read back with h5py."""

import json
import os
import random
import re
import shutil
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

QUICK = ["--set", "simulation.runs=200", "--set", "simulation.runs_per_task=40", "--set", "simulation.budgets=1,2,4,15"]
# Long enough (several seconds on 2 workers) for a kill to land mid-sweep.
LONG = ["--set", "simulation.runs=400000", "--set", "simulation.runs_per_task=5000", "--set",
        "simulation.budgets=1,3,5,8"]


@pytest.fixture
def job(tmp_path, paper_table):
    """A job file in its own folder with a copy of the paper table beside it."""
    shutil.copy(paper_table, tmp_path / "paper.csv")
    path = tmp_path / "job.ini"
    path.write_text("[job]\nname = test-job\noutput = out\nseed = 4\n[simulation]\ntables = paper.csv\n")
    return path


def mpirun_cmd(ranks, *args):
    return [os.environ["ACSWEEP_MPIEXEC"], os.environ["ACSWEEP_MPIEXEC_NUMPROC_FLAG"], str(ranks),
            "--oversubscribe", os.environ["ACSWEEP_BIN"], *map(str, args)]


def recall(out_dir):
    """The final recall arrays from the newest complete segment."""
    segments = sorted((out_dir / "segments").glob("segment-*.h5"))
    with h5py.File(segments[-1], "r") as f:
        assert f.attrs["complete"] == 1
        g = f["policy/paper/simulation"]
        return g["recall_at_1"][()], g["recall_at_3"][()]


def inspect(acsweep, out_dir):
    return json.loads(acsweep("inspect", out_dir, "--json").stdout)


def test_dry_run_prints_the_plan_and_writes_nothing(acsweep, job):
    out = acsweep("run", job, "--dry-run", *QUICK).stdout
    assert "job 'test-job'" in out and "layout: one process runs every task in order" in out
    assert "tasks: 40 policy_simulation" in out  # 2 samplers x 4 budgets x 5 shards
    assert "paper/region/k=4/runs 160-200" in out
    assert not (job.parent / "out").exists()
    assert "layout: world of 4: 1 coordinator, 1 worker group(s) of 1, 2 scorer(s)" in acsweep(
        "run", job, "--dry-run", *QUICK, ranks=4).stdout


@pytest.mark.parametrize("text,sets,ranks,message", [
    ("[job]\nname=x\n[simulation]\ntables=paper.csv\nrunz=3\n", [], None, "[simulation] runz: unknown key"),
    ("[job]\nname=x\nseed=abc\n[simulation]\ntables=paper.csv\n", [], None, "[job] seed: "),
    ("[job]\nname=x\n[simulation]\ntables=missing.csv\n", [], None, "[simulation] tables: no such file"),
    ("[job]\nname=x\n[simulation]\ntables=paper.csv\nbudgets=3,99\n", [], None, "[simulation] budgets: '99'"),
    ("[job]\nname=x\n[layout]\ngroups=2\ngroup_size=2\n[simulation]\ntables=paper.csv\n", [], 2,
     "layout: 1 coordinator + 2 group(s) x 2 rank(s) needs 5 ranks, but the world has 2"),
    ("[job]\nname=x\n[simulation]\ntables=paper.csv\n", ["simulation.runs=0"], None, "[simulation] runs: must be"),
    # every task is planned up front: 10^12 runs were 10^10 tasks, an allocation that never ended
    ("[job]\nname=x\n[simulation]\ntables=paper.csv\n",
     ["simulation.runs=2000000", "simulation.runs_per_task=1", "simulation.budgets=1"], None,
     "[simulation] runs = 2000000 in tasks of runs_per_task = 1 make more than 1000000 tasks"),
    # budgets of fits over every setting, quadratic in the table's size: refused naming the cost
    ("[job]\nname=x\n[simulation]\ntables=paper.csv\n", ["simulation.runs=1000000000000"], None,
     "setting evaluations (at 5e+07 a second per core, 30667 core-hours): give fewer budgets"),
])
def test_bad_job_files_fail_before_any_work(acsweep, tmp_path, paper_table, text, sets, ranks, message):
    shutil.copy(paper_table, tmp_path / "paper.csv")
    (tmp_path / "job.ini").write_text(text)
    args = [a for s in sets for a in ("--set", s)]
    done = acsweep("run", tmp_path / "job.ini", *args, ranks=ranks, check=False)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and str(tmp_path) in done.stderr or message.startswith("layout"), done.stderr
    assert not (tmp_path / "results").exists()


def test_missing_pmi_is_refused(acsweep, job):
    env = dict(os.environ, SLURM_NTASKS="4")
    done = subprocess.run([os.environ["ACSWEEP_BIN"], "run", str(job), *QUICK], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "MPI sees a world of 1" in done.stderr


def test_same_results_at_1_2_4_5_ranks_and_as_acsweep_policy(acsweep, job, tmp_path):
    reference = None
    for ranks in (1, 2, 4, 5):
        out = tmp_path / f"out{ranks}"
        done = acsweep("run", job, *QUICK, "--set", f"job.output={out}", ranks=ranks)
        got = recall(out)
        if reference is None:
            reference, stdout = got, done.stdout
        np.testing.assert_array_equal(got[0], reference[0])
        np.testing.assert_array_equal(got[1], reference[1])
        assert done.stdout == stdout, f"{ranks} ranks"
        state = inspect(acsweep, out)
        assert state["tasks"] == {"total": 40, "done": 40, "failed": 0, "pending": 0, "not_needed": 0}
    policy = json.loads(acsweep("policy", job.parent / "paper.csv", "--budget", "1", "--runs", "200", "--seed",
                                "4", "--json").stdout)
    mmbench = [p for p in policy["benchmarks"]["MMBench"]["curve"] if p["sampler"] == "region"][0]
    assert reference[0][0, 0, 0] == mmbench["recall_at_1"]  # region, budget 1, MMBench


def test_first_hit_counting_in_a_job_equals_acsweep_policy(acsweep, job, tmp_path):
    out = tmp_path / "first_hit"
    acsweep("run", job, *QUICK, "--set", "simulation.counting=first-hit", "--set", f"job.output={out}", ranks=2)
    segments = sorted((out / "segments").glob("segment-*.h5"))
    with h5py.File(segments[-1], "r") as f:
        assert f["policy/paper/simulation"].attrs["counting"] == "first-hit"
    at1, at3 = recall(out)
    policy = json.loads(acsweep("policy", job.parent / "paper.csv", "--budget", "4", "--runs", "200", "--seed",
                                "4", "--counting", "first-hit", "--json").stdout)
    assert policy["counting"] == "first-hit"
    mmbench = [p for p in policy["benchmarks"]["MMBench"]["curve"] if p["sampler"] == "region"][0]
    assert at1[0, 2, 0] == mmbench["recall_at_1"] and at3[0, 2, 0] == mmbench["recall_at_3"]  # region, k'=4



def test_sequential_sampler_in_a_job_equals_acsweep_policy(acsweep, job, tmp_path):
    out = tmp_path / "sequential"
    acsweep("run", job, *QUICK, "--set", "simulation.samplers=sequential", "--set", f"job.output={out}", ranks=2)
    segments = sorted((out / "segments").glob("segment-*.h5"))
    with h5py.File(segments[-1], "r") as f:
        assert [s.decode() if isinstance(s, bytes) else s for s in f["policy/paper/simulation/samplers"][()]] == [
            "sequential"]
    at1, at3 = recall(out)
    policy = json.loads(acsweep("policy", job.parent / "paper.csv", "--budget", "4", "--runs", "200", "--seed",
                                "4", "--sampler", "sequential", "--json").stdout)
    for b, name in enumerate(policy["benchmarks"]):
        point = policy["benchmarks"][name]["curve"][0]
        assert at1[0, 2, b] == point["recall_at_1"] and at3[0, 2, b] == point["recall_at_3"]  # k'=4


def test_both_countings_in_a_job_equal_each_counting_alone(acsweep, job, tmp_path):
    def curves(out, name):
        segments = sorted((out / "segments").glob("segment-*.h5"))
        with h5py.File(segments[-1], "r") as f:
            g = f["policy/paper/" + name]
            return g.attrs["counting"], g["recall_at_1"][()], g["recall_at_3"][()]

    out = tmp_path / "both"
    done = acsweep("run", job, *QUICK, "--set", "simulation.counting=both", "--set", f"job.output={out}", ranks=2)
    assert "(exact counting)" in done.stdout and "(first-hit counting" in done.stdout
    for counting, name in (("exact", "simulation"), ("first-hit", "simulation_first_hit")):
        alone = tmp_path / counting
        acsweep("run", job, *QUICK, "--set", f"simulation.counting={counting}", "--set", f"job.output={alone}")
        got, want = curves(out, name), curves(alone, "simulation")
        assert got[0] == want[0] == counting
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[2], want[2])
    assert inspect(acsweep, out)["tasks"]["total"] == 80  # 40 tasks a counting
    plan = acsweep("run", job, *QUICK, "--set", "simulation.counting=both", "--dry-run").stdout
    assert "exact counting" in plan and "first-hit counting" in plan and "paper/first-hit/region/k=4" in plan

def wait_for_results(out_dir, timeout=120):
    """Blocks until the run in out_dir has journaled its first result: signals and kills in the
    tests below then land mid-sweep however loaded the machine is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.stat().st_size > 0 for p in out_dir.glob("journal/segment-*/rank-*.jsonl")):
            return
        time.sleep(0.02)
    raise AssertionError(f"no result journaled in {out_dir} within {timeout} s")


def journal_values(out_dir, segment):
    """hash -> the values of done records of one segment, as uint64 bit patterns."""
    values = {}
    for path in (out_dir / "journal" / f"segment-{segment:04d}").glob("*.jsonl"):
        for line in path.read_text().splitlines():
            record = json.loads(line[9:])
            if record["status"] == "done":
                values[record["hash"]] = [int(b, 16) for b in record["values"]]
    return values


def assert_journaled_kept(out, before):
    """Every result journaled before a kill (`before`: journal_values of segment 1) is in the rerun's
    segment 2, bit for bit, and every task there is done."""
    with h5py.File(out / "segments" / "segment-0002.h5", "r") as f:
        hashes = [h.decode() for h in f["tasks/hash"][()]]
        rows = f["tasks/values"][()]
        assert (f["tasks/status"][()] == 1).all()
    for task_hash, bits in before.items():
        row = rows[hashes.index(task_hash)][: len(bits)]
        assert [int(v) for v in row.view(np.uint64)] == bits


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_then_rerun_equals_an_uninterrupted_run(acsweep, job, tmp_path, seed, kill_tree,
                                                      wait_until_unlocked):
    reference_dir = tmp_path / "reference"
    acsweep("run", job, *LONG, "--set", f"job.output={reference_dir}", ranks=3)
    reference = recall(reference_dir)

    out = tmp_path / "killed"
    cmd = mpirun_cmd(3, "run", job, *LONG, "--set", f"job.output={out}")
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_results(out)
    time.sleep(random.Random(seed).uniform(0.0, 0.8))
    kill_tree(process.pid)  # mpirun and every rank at once, no cleanup
    process.wait()
    wait_until_unlocked(out)
    killed = inspect(acsweep, out)
    assert killed["segments"][0]["state"] in ("incomplete", "unreadable")
    assert killed["tasks"]["pending"] > 0
    before = journal_values(out, 1)

    acsweep("run", job, *LONG, "--set", f"job.output={out}", ranks=2)  # another rank count
    assert inspect(acsweep, out)["tasks"]["pending"] == 0
    final = recall(out)
    np.testing.assert_array_equal(final[0], reference[0])
    np.testing.assert_array_equal(final[1], reference[1])
    assert_journaled_kept(out, before)


@pytest.mark.parametrize("victim", [1, 0])  # a worker, then the coordinator
def test_one_rank_killed_ends_the_job_promptly_and_a_rerun_loses_nothing_journaled(
        acsweep, job, tmp_path, victim, wait_until_unlocked, rank_pid):
    # A node failure takes one rank: the others, waiting on it in a receive or a collective, must
    # not hang the allocation. Open MPI ends the job when a rank dies; the rerun resumes.
    reference_dir = tmp_path / "reference"
    acsweep("run", job, *LONG, "--set", f"job.output={reference_dir}", ranks=3)
    reference = recall(reference_dir)
    out = tmp_path / "one_killed"
    process = subprocess.Popen(mpirun_cmd(3, "run", job, *LONG, "--set", f"job.output={out}"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for_results(out)
    os.kill(rank_pid(process.pid, victim), signal.SIGKILL)
    started = time.monotonic()
    try:
        code = process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert code != 0 and time.monotonic() - started < 60
    wait_until_unlocked(out)
    before = journal_values(out, 1)
    assert before, "nothing was journaled before the kill"
    acsweep("run", job, *LONG, "--set", f"job.output={out}", ranks=3)
    assert inspect(acsweep, out)["tasks"]["pending"] == 0
    final = recall(out)
    np.testing.assert_array_equal(final[0], reference[0])
    np.testing.assert_array_equal(final[1], reference[1])
    assert_journaled_kept(out, before)


def test_sigusr1_stops_gracefully_and_a_rerun_completes(acsweep, job, tmp_path):
    out = tmp_path / "stopped"
    process = subprocess.Popen(mpirun_cmd(3, "run", job, *LONG, "--set", f"job.output={out}"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_results(out)
    process.send_signal(signal.SIGUSR1)  # mpirun forwards it to every rank
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "stopped by a signal" in err
    state = inspect(acsweep, out)
    assert state["segments"][0]["state"] == "stopped"
    assert state["tasks"]["pending"] > 0
    acsweep("run", job, *LONG, "--set", f"job.output={out}", ranks=3)
    assert inspect(acsweep, out)["tasks"]["pending"] == 0


def test_rerun_skips_finished_tasks_and_recomputes_changed_ones(acsweep, job, tmp_path):
    out = tmp_path / "again"
    acsweep("run", job, *QUICK, "--set", f"job.output={out}")
    second = acsweep("run", job, *QUICK, "--set", f"job.output={out}")
    assert "40 tasks, 40 done earlier, 0 to run" in second.stderr
    grown = acsweep("run", job, *QUICK, "--set", "simulation.budgets=1,2,4,5,15", "--set", f"job.output={out}")
    assert "50 tasks, 40 done earlier, 10 to run" in grown.stderr  # only budget 5 is new
    table = job.parent / "paper.csv"
    table.write_text(table.read_text().replace("64.26", "64.27"))  # the table changed: its hash too
    changed = acsweep("run", job, *QUICK, "--set", f"job.output={out}")
    assert "40 tasks, 0 done earlier, 40 to run" in changed.stderr


def test_results_directory_of_another_job_is_refused(acsweep, job, tmp_path):
    out = tmp_path / "shared"
    acsweep("run", job, *QUICK, "--set", f"job.output={out}")
    done = acsweep("run", job, *QUICK, "--set", f"job.output={out}", "--set", "job.name=other", check=False)
    assert done.returncode == 2
    assert "belongs to job 'test-job', not 'other'" in done.stderr


def test_second_signal_exits_at_once(acsweep, job, tmp_path):
    out = tmp_path / "twice"
    process = subprocess.Popen([os.environ["ACSWEEP_BIN"], "run", str(job), *LONG, "--set", f"job.output={out}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_results(out)
    process.send_signal(signal.SIGUSR1)
    time.sleep(0.05)
    process.send_signal(signal.SIGUSR1)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGUSR1, err
    acsweep("run", job, *QUICK, "--set", f"job.output={out}")  # the journals still serve a rerun


def test_corrupted_segment_is_reported_and_rebuilt(acsweep, job, tmp_path):
    out = tmp_path / "torn"
    acsweep("run", job, *QUICK, "--set", f"job.output={out}")
    segment = out / "segments" / "segment-0001.h5"
    segment.write_bytes(b"\0" * 512 + segment.read_bytes()[512:])  # the superblock is gone
    state = inspect(acsweep, out)
    assert state["segments"] == [{"segment": 1, "path": str(segment), "state": "unreadable"}]
    assert "no readable segment" in acsweep("inspect", out).stdout
    rebuilt = acsweep("run", job, *QUICK, "--set", f"job.output={out}")
    assert "40 done earlier, 0 to run" in rebuilt.stderr  # from the journals
    assert [s["state"] for s in inspect(acsweep, out)["segments"]] == ["unreadable", "complete"]


def test_a_stale_semaphore_of_another_job_does_not_hang_a_run(acsweep, job, tmp_path):
    """Open MPI's sm shared-file-pointer component names a semaphore after the segment's base name,
    so a rank killed inside MPI_File_open left every later run on the host hanging there. acsweep
    runs with the component that keeps no semaphore."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.sem_open.restype = ctypes.c_void_p
    libc.sem_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.c_uint]
    name = b"/OMPIO_segment-0001.h5"
    libc.sem_unlink(name)
    assert libc.sem_open(name, os.O_CREAT | os.O_EXCL, 0o600, 0), ctypes.get_errno()  # held: value 0
    try:
        done = subprocess.run(mpirun_cmd(2, "run", job, *QUICK, "--set", f"job.output={tmp_path / 'out'}"),
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    finally:
        libc.sem_unlink(name)


def test_a_second_run_on_the_same_results_directory_is_refused(acsweep, job, tmp_path):
    out = tmp_path / "busy"
    first = subprocess.Popen([os.environ["ACSWEEP_BIN"], "run", str(job), *LONG, "--set", f"job.output={out}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_results(out)
        second = acsweep("run", job, *QUICK, "--set", f"job.output={out}", check=False)
        assert second.returncode == 2, second.stderr
        assert f"results directory {out} is in use by another run (host " in second.stderr
        assert f", pid {first.pid}, since " in second.stderr
        assert len(list((out / "segments").glob("segment-*.h5"))) == 1  # nothing of its own written
    finally:
        first.kill()  # SIGKILL: the kernel drops the lock with the process
        first.wait()
    acsweep("run", job, *QUICK, "--set", f"job.output={out}")  # the lock died with its holder


def test_a_segment_larger_than_the_free_space_is_refused_before_any_work(job, tmp_path):
    """Every column of a segment is allocated when it is created: on a 1 MiB filesystem (a tmpfs in
    a mount namespace of its own) a plan of 20000 tasks is refused, naming the sizes."""
    small = tmp_path / "small"
    small.mkdir()
    script = (f'mount -t tmpfs -o size=1m tmpfs "{small}" && exec "{os.environ["ACSWEEP_BIN"]}" run "{job}" '
              f'--set job.output="{small}/out" --set simulation.runs=10000 --set simulation.runs_per_task=1 '
              '--set simulation.budgets=4')
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert re.search(r"segment-0001\.h5 would take [\d.]+ MB when it is created, and .*/out has [\d.]+ [kM]B free; "
                     r"the largest part is tasks/values \(20000 tasks x \d+ values\)", done.stderr), done.stderr


def test_a_corrupt_journal_line_is_refused_then_recomputed_on_request(acsweep, job, tmp_path):
    out = tmp_path / "corrupt"
    acsweep("run", job, *QUICK, "--set", f"job.output={out}")
    reference = recall(out)
    journal = sorted(out.glob("journal/segment-0001/*.jsonl"))[0]
    lines = journal.read_bytes().split(b"\n")
    assert len(lines) > 3
    lines[1] = lines[1][:30] + (b"y" if lines[1][30:31] == b"x" else b"x") + lines[1][31:]  # a flipped byte
    journal.write_bytes(b"\n".join(lines))

    refused = acsweep("run", job, *QUICK, "--set", f"job.output={out}", check=False)
    assert refused.returncode == 1
    assert f"journal {journal}, line 2: checksum mismatch (corrupt file); the other records are intact: run " \
           "again with --recompute-corrupt" in refused.stderr, refused.stderr
    assert len(list((out / "segments").glob("*.h5"))) == 1  # refused before a segment of its own
    assert inspect(acsweep, out)["corrupt_journal_lines"] == [
        {"path": str(journal), "line": 2, "why": "checksum mismatch"}]

    again = acsweep("run", job, *QUICK, "--set", f"job.output={out}", "--recompute-corrupt")
    assert f"line 2: checksum mismatch: set aside in {journal}.corrupt; its task is computed again" in again.stderr
    assert "39 done earlier, 1 to run" in again.stderr
    assert (journal.parent / (journal.name + ".corrupt")).read_bytes() == lines[1] + b"\n"
    for got, want in zip(recall(out), reference):
        np.testing.assert_array_equal(got, want)
    assert "40 done earlier, 0 to run" in acsweep("run", job, *QUICK, "--set", f"job.output={out}").stderr
