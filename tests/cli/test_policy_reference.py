"""The policy simulation against an independent replay written with scikit-learn
(bench/policy_simulation_vs_sklearn.py: region sampling re-implemented from LAW.md, the Law fitted
by PolynomialFeatures + LinearRegression), under both countings: the recall numbers must agree
exactly, not within Monte-Carlo error."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("counting", ["exact", "first-hit"])
def test_simulation_agrees_exactly_with_the_scikit_learn_replay(paper_table, counting):
    done = subprocess.run([sys.executable, str(ROOT / "bench/policy_simulation_vs_sklearn.py"), "--runs", "3",
                           "--seed", "11", "--table", str(paper_table), "--acsweep", os.environ["ACSWEEP_BIN"],
                           "--counting", counting], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recall numbers            : agree exactly" in done.stdout
