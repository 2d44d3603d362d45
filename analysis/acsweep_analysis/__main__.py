"""python3 -m acsweep_analysis report RESULTS.h5 --out DIR
   python3 -m acsweep_analysis sweep RUN_DIR --out DIR"""

import argparse
import sys

from .report import build_report
from .sweep import build_sweep_report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="acsweep_analysis")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="build report.md and its pictures from a results file")
    rep.add_argument("results")
    rep.add_argument("--out", default="report")
    swp = sub.add_parser("sweep", help="build report.md and its pictures from an `acsweep run` sweep directory")
    swp.add_argument("results")
    swp.add_argument("--out", default="report")
    args = parser.parse_args(argv)
    try:
        path = (build_report if args.command == "report" else build_sweep_report)(args.results, args.out)
    except (OSError, KeyError) as e:
        print(f"acsweep_analysis: {args.results}: {e}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
