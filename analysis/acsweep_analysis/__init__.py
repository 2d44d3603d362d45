"""Offline analysis of acsweep results files (HDF5): tables, plots and a Markdown report.

Run with a Python that has h5py, numpy, pandas and matplotlib (the project's .venv has them):
    .venv/bin/python -m acsweep_analysis report results.h5 --out report/
    .venv/bin/python -m acsweep_analysis sweep results/demo/run --out report/
"""

from .results import Results, load
from .report import build_report
from .run import RunResults, load_run
from .sweep import Sweep, build_sweep_report, load_sweep

__all__ = ["Results", "load", "build_report", "RunResults", "load_run", "Sweep", "load_sweep", "build_sweep_report"]
