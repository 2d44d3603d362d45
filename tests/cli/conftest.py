import os
import subprocess

import pytest


@pytest.fixture(scope="session")
def acsweep():
    """Runs the acsweep executable (path from CTest), returning the CompletedProcess."""
    binary = os.environ["ACSWEEP_BIN"]

    def run(*args, ranks=None, check=True):
        cmd = [binary, *map(str, args)]
        if ranks is not None:
            cmd = [os.environ["ACSWEEP_MPIEXEC"], os.environ["ACSWEEP_MPIEXEC_NUMPROC_FLAG"], str(ranks),
                   "--oversubscribe", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if check and done.returncode != 0:
            raise AssertionError(f"{cmd} exited {done.returncode}:\n{done.stderr}")
        return done

    return run


@pytest.fixture(scope="session")
def paper_table():
    return os.environ["ACSWEEP_PAPER_TABLE"]


@pytest.fixture(scope="session")
def wait_until_unlocked():
    """Blocks until no process holds the run lock of a results directory: after mpirun is killed,
    Open MPI's ranks (in process groups of their own) outlive it until they notice, and a rerun
    meanwhile is refused as a second run on the directory, as it should be."""
    import fcntl
    import time

    def wait(out_dir, timeout=120):
        deadline = time.monotonic() + timeout
        with open(os.path.join(out_dir, "run.lock"), "a") as lock:
            while True:
                try:
                    fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.lockf(lock, fcntl.LOCK_UN)
                    return
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{out_dir}/run.lock still held after {timeout} s")
                    time.sleep(0.05)

    return wait


def process_tree(pid):
    """The process, then its descendants: each one's children appended as it is reached."""
    table = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True, check=True).stdout
    children = {}
    for line in table.splitlines():
        child, parent = map(int, line.split())
        children.setdefault(parent, []).append(child)
    tree = [pid]
    for process in tree:
        tree.extend(children.get(process, []))
    return tree


@pytest.fixture(scope="session")
def kill_tree():
    """SIGKILL to a process and every process under it at once, as a node failure or Slurm's
    cgroup kill ends a job: killing mpirun's process group alone leaves Open MPI's ranks, which
    sit in process groups of their own, running."""
    import signal

    def kill(pid):
        for victim in process_tree(pid):
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass

    return kill


@pytest.fixture(scope="session")
def rank_pid():
    """The pid of MPI rank `rank` under mpirun: the process below it whose environment says so."""

    def find(mpirun_pid, rank):
        for pid in process_tree(mpirun_pid)[1:]:
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    environment = f.read().split(b"\0")
            except OSError:
                continue
            if f"OMPI_COMM_WORLD_RANK={rank}".encode() in environment:
                return pid
        raise AssertionError(f"no rank {rank} under mpirun {mpirun_pid}")

    return find
