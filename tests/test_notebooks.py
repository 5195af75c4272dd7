"""Every lesson's notebook is committed clean and runs top to bottom in quick mode."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from toolkit.lessons import notebook_path
from toolkit.manager import create_plugin_manager
from toolkit.registry import Lesson

ROOT = Path(__file__).resolve().parents[1]
LESSONS = [l for l in create_plugin_manager().registry.records(Lesson) if l.notebook]


def test_every_notebook_in_tutorials_belongs_to_a_lesson_and_has_no_outputs():
    files = sorted(p.name for p in (ROOT / "tutorials").glob("*.ipynb"))
    assert files == sorted(notebook_path(l).name for l in LESSONS)
    for name in files:
        notebook = json.loads((ROOT / "tutorials" / name).read_text())
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, f"{name} was committed with outputs"


@pytest.mark.slow
@pytest.mark.parametrize("lesson", LESSONS, ids=[l.id for l in LESSONS])
def test_notebook_runs_in_quick_mode(lesson, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PTM_QUICK", "1")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    notebook = nbformat.read(notebook_path(lesson), as_version=4)
    # A failing cell raises CellExecutionError naming the cell and the error.
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
