"""The plugin guide's snippets run as written: docs/plugins.md cannot drift from the code.

A ```python block of the guide placed under a ``<!-- run: NAME -->`` line is run here. The blocks
of one NAME make one example, in order: a block whose first line names a file
(``# ptm_chunks/__init__.py``) is written to that file in a temporary folder on ``sys.path``, and
the other blocks then run as one script in that folder.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
_MARKED = re.compile(r"^<!-- run: ([a-z0-9-]+) -->\n\s*```python\n(.*?)^```", re.S | re.M)
_FILE = re.compile(r"# ([\w/]+\.py)\n")


def _snippets() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, code in _MARKED.findall(GUIDE.read_text(encoding="utf-8")):
        out.setdefault(name, []).append(code)
    return out


def _check_chunking(scope: dict) -> None:
    assert scope["metrics"]["task"] == "chunking"
    assert 0.0 <= scope["metrics"]["final"]["f1"] <= 1.0
    words = scope["row"]["words"]
    assert [w["word"] for w in words] == "the young dog ate a bone".split()
    assert {w["tag"] for w in words} <= {"O", "B-NP", "I-NP"}


CHECKS = {"chunking": _check_chunking}
"""What each example leaves behind, checked after it ran (beyond running without an error)."""


def test_the_guide_marks_its_runnable_examples():
    assert set(_snippets()) >= {"chunking"}


def test_the_guide_calls_no_trainer_with_hooks():
    # Trainers report through run.events; the hooks= argument of old is gone.
    code = "".join(re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S))
    assert "hooks=" not in code


@pytest.mark.parametrize("name", sorted(_snippets()))
def test_the_guide_example_runs(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    packages, scripts = set(), []
    for code in _snippets()[name]:
        named = _FILE.match(code)
        if named:
            path = tmp_path / named.group(1)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code, encoding="utf-8")
            packages.add(Path(named.group(1)).parts[0].removesuffix(".py"))
        else:
            scripts.append(code)
    scope: dict = {"__name__": f"guide_{name.replace('-', '_')}"}
    try:
        for code in scripts:
            exec(compile(code, f"docs/plugins.md, example '{name}'", "exec"), scope)
    finally:
        for module in [m for m in sys.modules if m.split(".")[0] in packages]:
            del sys.modules[module]
    CHECKS.get(name, lambda scope: None)(scope)
