"""Every lesson's quick mode, headless, one after another: seconds, the claim, the report.

The unit tests run the finetuning lesson headless (README's first command) and grade every
solution notebook, which computes what the headless runs compute; the other headless runs would
only repeat those minutes, so their checks live here. Each lesson is timed against the
course's budget for a quick lesson (two minutes on 2 CPU cores) and against a plain baseline
measured in the same run: one epoch of `ptm train` on the reviews (the course's unit of work).

    python benchmarks/lessons.py [--lessons pretraining,training-cost] [--out DIR]

Prints one JSON line per lesson and exits 1 if a claim failed or a check did not hold.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_SECONDS = 120.0
LESSONS = ("pretraining", "finetuning", "training-cost", "privacy", "explainability",
           "private-and-explainable", "write-a-plugin")


def _ptm(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    # the installed `ptm` script, as a user runs it
    done = subprocess.run([str(Path(sys.executable).with_name("ptm")), *args], capture_output=True, text=True)
    return time.perf_counter() - start, done


def check(lesson: str, out: Path, saved: dict) -> list[str]:
    """What each lesson's run must show beyond its claim; the problems found ("" if none)."""
    numbers, page = saved["numbers"], (out / "report.html").read_text()
    problems = []

    def need(condition: bool, what: str) -> None:
        if not condition:
            problems.append(what)

    if lesson == "pretraining":
        need(numbers["held-out masked-token accuracy"] > numbers["always guessing the commonest token"],
             "masked-token accuracy not above the unigram floor")
        need(len((out / "corpus.txt").read_text().splitlines()) == 400, "the corpus is not the 400 training reviews")
        need("3. What it learned to fill in" in page, "section 3 missing")
    elif lesson == "training-cost":
        need(0.55 <= numbers["LoRA r=8: FLOPs / full's"] <= 0.75, "LoRA's FLOPs share outside 0.55-0.75")
        need(0.30 <= numbers["head only: FLOPs / full's"] <= 0.37, "the head's FLOPs share outside 0.30-0.37")
        need(abs(numbers["MiniLM-L3, full: FLOPs / full's"] - 0.5) <= 0.01, "half the layers is not half the FLOPs")
        need("image not shown" not in page and (out / "pareto.png").is_file(), "the Pareto plot is missing")
    elif lesson == "explainability":
        need(numbers["IG - random comprehensiveness, 95% bootstrap interval"][0] > 0, "IG does not beat random")
        need(numbers["largest |delta| on dev at 32 steps"] < 0.05, "IG did not converge at 32 steps")
        for image in ("ig.png", "convergence.png", "randomization.png"):
            need((out / image).is_file(), f"{image} missing")
    elif lesson == "privacy":
        need(numbers["mechanism: violation found"] is False, "the Laplace check found a violation")
        rdp, prv, _ = (float(v) for v in numbers["epsilon (RDP / PRV / GDP)"].split(" / "))
        need(prv < rdp <= 8.0 + 1e-6, "the accountants' epsilons are not PRV < RDP <= 8")
        need(numbers["delta"] == 1 / 4000, "delta is not 1/(10 N) for the 400 training reviews")
        need("4. Membership inference" in page, "section 4 missing")
    elif lesson == "private-and-explainable":
        need(numbers["rank agreement, private vs twin"] < numbers["rank agreement, twin vs twin with another seed"],
             "the private model agrees with its twin as much as two twins agree")
        private = json.loads((out / "private" / "metrics.json").read_text())
        need(private["epsilon"] <= 8.0 + 1e-6 and private["trainable"] == "head", "the private head spent more than 8")
    elif lesson == "write-a-plugin":
        need(numbers["contract check"] == "passed", "the plugin fails the explainer contract")
        need("[project.entry-points.ptm]" in (out / "ptm-gradient-shap" / "pyproject.toml").read_text(),
             "the plugin's pyproject declares no ptm entry point")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lessons", default=",".join(LESSONS))
    parser.add_argument("--out", type=Path, default=None, help="where the lesson folders go (default: a temporary folder)")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="ptm-lessons-"))
    baseline, done = _ptm("train", "--model", "minilm", "--data", "reviews", "--epochs", "1",
                          "--out", str(root / "baseline"), "--overwrite", "--quiet")
    if done.returncode:
        print(done.stderr, file=sys.stderr)
        return 1
    failed = False
    for lesson in args.lessons.split(","):
        out = root / lesson
        seconds, done = _ptm("lesson", "run", lesson, "--quick", "--out", str(out), "--quiet")
        row = {"lesson": lesson, "seconds": round(seconds, 1), "budget_share": round(seconds / BUDGET_SECONDS, 2),
               "vs_one_epoch_of_ptm_train": round(seconds / baseline, 2), "exit": done.returncode}
        if done.returncode == 0:
            saved = json.loads((out / "metrics.json").read_text())
            row["claim_holds"] = saved["claim_holds"]
            row["problems"] = check(lesson, out, saved)
        else:
            row["error"] = done.stderr.strip().splitlines()[-1:] or ["(no output)"]
        failed |= done.returncode != 0 or not row.get("claim_holds") or bool(row.get("problems"))
        print(json.dumps(row), flush=True)
    print(json.dumps({"baseline": "ptm train --model minilm --data reviews --epochs 1", "seconds": round(baseline, 1)}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
