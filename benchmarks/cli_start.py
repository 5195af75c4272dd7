"""Cold start of `ptm --help`: median wall time over fresh processes, against a bare interpreter.

Prints one JSON line. The baseline is `python -c pass` run the same way in the same script, so
the ratio says how much the toolkit adds on top of starting Python at all.

    python benchmarks/cli_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

TARGET_S = 0.5


def median_seconds(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    ptm = shutil.which("ptm") or os.path.join(os.path.dirname(sys.executable), "ptm")
    median_seconds([ptm, "--help"], 2)  # warm the page cache, as a user's second call would
    baseline = median_seconds([sys.executable, "-c", "pass"], args.runs)
    help_s = median_seconds([ptm, "--help"], args.runs)
    print(
        json.dumps(
            {
                "benchmark": "cli_start",
                "runs": args.runs,
                "ptm_help_median_s": round(help_s, 4),
                "python_baseline_median_s": round(baseline, 4),
                "ratio_vs_bare_python": round(help_s / baseline, 2),
                "target_s": TARGET_S,
                "under_target": help_s < TARGET_S,
            }
        )
    )


if __name__ == "__main__":
    main()
