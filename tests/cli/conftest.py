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
