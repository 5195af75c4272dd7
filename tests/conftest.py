from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest


def make_entry_point_plugin(root: Path, name: str, source: str, *, dist: str | None = None) -> Path:
    """Write a throw-away distribution under ``root``: a module and a dist-info with a
    ``ptm`` entry point, so that importlib.metadata finds it once ``root`` is on sys.path."""
    dist = dist or f"{name.replace('_', '-')}"
    (root / f"{name}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text(f"[ptm]\n{name} = {name}\n")
    return root


def learnable_tsv(path: Path, n: int) -> Path:
    """A .tsv of ``n`` short sentences whose label one word decides: tiny-bert learns it in a
    few epochs (for tests of how training runs, not of what a model learns)."""
    import random

    rng = random.Random(0)
    good, bad = ["great", "lovely", "superb", "fine"], ["awful", "dull", "poor", "weak"]
    rows = ["text\tlabel"]
    for i in range(n):
        label = i % 2
        noun, word = rng.choice(["film", "meal", "app"]), rng.choice(good if label else bad)
        rows.append(f"the {noun} was {word} today\t{label}")
    path.write_text("\n".join(rows) + "\n")
    return path


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A folder on sys.path where tests drop throw-away plugin distributions."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("tp_")]:
        del sys.modules[name]


# Under pytest-xdist each worker process gets one torch thread (and so does every notebook
# kernel or ptm subprocess it starts): workers share the cores instead of fighting over them.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

# Tests never reach a model hub, and a broken plugin fails them loudly.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PTM_STRICT_PLUGINS", "1")


def pytest_collection_modifyitems(session, config, items):
    """The docs tests first: their session fixture (every lesson's solution graded, then the
    site built) is the suite's longest single job, so under xdist it starts at once on the first
    worker while the other works through everything else (longest job first)."""
    items.sort(key=lambda item: item.nodeid.split("::")[0] != "tests/test_docs.py")
