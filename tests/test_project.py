"""The promises README.md makes about setting up are the ones CI keeps."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _readme_commands() -> list[str]:
    block = re.search(r"## Set up.*?```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README.md has no set-up block"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_gives_two_setup_commands_and_ci_runs_the_test_one():
    commands = _readme_commands()
    assert len(commands) == 2
    install_and_run, install_and_test = commands
    assert install_and_run.startswith("pip install torch==2.13.0 ")
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert install_and_test in ci_lines, "CI must run README's test command verbatim"
    assert "pytest" in install_and_test


def test_hook_reference_is_linked_from_the_readme():
    assert "(docs/hooks.md)" in (ROOT / "README.md").read_text()
