"""Two processes given the same ``--out`` never mix their runs: the folder is claimed in one
atomic step, so exactly one run is written whole and the other exits 2 naming the winner.

The fault test slows one ``ptm train`` right after its "is the folder free?" check, as a busy
machine does, and lets the other run in that gap. ``PTM_FAULT_REPEAT=20`` repeats it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from toolkit.errors import ConfigError
from toolkit.runs import CLAIM, RunFolder, sha256_of

# `ptm train` in a process whose check of --out waits, once it has passed, for GO to exist.
SLOWED = """
import sys, time
from pathlib import Path
from toolkit.runs import RunFolder

checked, go = Path(sys.argv[1]), Path(sys.argv[2])
check = RunFolder._check_free

def slow_check(self, overwrite):
    check(self, overwrite)
    checked.write_text("passed")
    deadline = time.monotonic() + 120
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.02)

RunFolder._check_free = slow_check
from toolkit.cli import main
main(sys.argv[3:])
"""

REPEAT = int(os.environ.get("PTM_FAULT_REPEAT", "1"))


def _wait_for(path: Path, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 120
    while not path.exists():
        assert process.poll() is None, f"{what}: the process ended first: {process.communicate()}"
        assert time.monotonic() < deadline, f"{what}: timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("release", ["while the other runs", "after the other finished"])
@pytest.mark.parametrize("attempt", range(REPEAT))
def test_two_trains_on_one_out_write_one_whole_run(tmp_path, release, attempt):
    data = tmp_path / "good.tsv"
    data.write_text("text\tlabel\n" + "".join(
        f"{w} film number {i}\t{int(w == 'great')}\n" for i, w in enumerate(["great", "awful"] * 10)))
    out = tmp_path / "run"
    checked, go = tmp_path / "checked", tmp_path / "go"
    args = ["train", "--model", "tiny-bert", "--data", str(data), "--epochs", "1", "--quiet", "--out", str(out)]
    env = {**os.environ, "PTM_STRICT_PLUGINS": "1"}
    slowed = subprocess.Popen([sys.executable, "-c", SLOWED, str(checked), str(go), *args],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait_for(checked, slowed, "the slowed train's check")
    ptm = str(Path(sys.executable).parent / "ptm")
    other = subprocess.Popen([ptm, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if release == "while the other runs":
        _wait_for(out / "config.json", other, "the other train's config.json")
        go.touch()
        first, second = slowed.communicate(timeout=300), other.communicate(timeout=300)
    else:
        second = other.communicate(timeout=300)
        go.touch()
        first = slowed.communicate(timeout=300)

    assert other.returncode == 0, second
    assert slowed.returncode == 2, first
    lines = first[1].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ptm: run folder "), first[1]
    if release == "while the other runs":
        assert f"is being written by ptm process {other.pid} on" in lines[0]
    else:
        assert "was filled by another ptm process while this one was starting; choose another --out" in lines[0]
    # The winner's run, whole: finished, its own config, weights matching their record, no claim left.
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "finished"
    assert json.loads((out / "config.json").read_text())["command"] == "train"
    recorded = json.loads((out / "checksums.json").read_text())
    assert recorded == {"model/model.safetensors": sha256_of(out / "model" / "model.safetensors")}
    assert not (out / CLAIM).exists()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["checksums.json", "config.json", "confusion.png", "curves.png", "metrics.json", "model"])


def test_of_two_threads_claiming_one_folder_exactly_one_wins(tmp_path, monkeypatch):
    both_checked = threading.Barrier(2)
    check = RunFolder._check_free

    def check_then_wait(self, overwrite):
        check(self, overwrite)
        both_checked.wait(timeout=10)

    monkeypatch.setattr(RunFolder, "_check_free", check_then_wait)
    results: list[object] = []

    def claim():
        try:
            results.append(RunFolder.create(tmp_path / "run"))
        except ConfigError as error:
            results.append(error)

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if isinstance(r, RunFolder)]
    losers = [r for r in results if isinstance(r, ConfigError)]
    assert len(winners) == 1 and len(losers) == 1
    assert "is being written by this process" in str(losers[0])
    winners[0].finish({})
    assert not (tmp_path / "run" / CLAIM).exists()


def test_a_claim_left_by_a_killed_process_is_broken(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket

    (folder / CLAIM).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    assert RunFolder(folder).holder() is None
    RunFolder(folder).claim()
    assert json.loads((folder / CLAIM).read_text())["pid"] == os.getpid()
    RunFolder(folder).release()
    assert not (folder / CLAIM).exists()
