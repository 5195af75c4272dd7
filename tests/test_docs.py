"""The documentation site builds in strict mode and covers the whole contract: every hook, every
command, every lesson and every tutorial notebook has its page."""

from __future__ import annotations

import html
import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from toolkit import hookspecs
from toolkit.cli import create_cli
from toolkit.manager import create_plugin_manager

ROOT = Path(__file__).parents[1]
DOCS_PACKAGES = {
    "mkdocs": "mkdocs",
    "material": "mkdocs-material",
    "mkdocstrings": "mkdocstrings",
    "mkdocstrings_handlers.python": "mkdocstrings-python",
    "mkdocs_click": "mkdocs-click",
    "mkdocs_jupyter": "mkdocs-jupyter",
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package
        return False


def _shared(tmp_path_factory, name: str, make) -> Path:
    """A folder made once per test session, even across pytest-xdist's workers (the first to
    need it makes it under a lock; the others wait and reuse it)."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / name
    with FileLock(str(root / f"{name}.lock")):
        if not (folder / "done").is_file():
            folder.mkdir(exist_ok=True)
            make(folder)
            (folder / "done").write_text("")
    return folder


@pytest.fixture(scope="session")
def graded_solutions(tmp_path_factory):
    """Every lesson's solution notebook graded once (``ptm lesson grade --executed``): the run
    that checks the reference answers and gives the site its executed tutorials."""

    def make(folder: Path) -> None:
        from toolkit.lessons import copy_notebook

        pm = create_plugin_manager()
        submissions = folder / "solutions"
        for lesson in pm.registry.records("lesson"):
            if lesson.notebook:
                copy_notebook(pm, lesson.id, submissions, solutions=True)
        env = {**os.environ, "TQDM_DISABLE": "1"}
        result = subprocess.run(
            [sys.executable, "-m", "toolkit.cli", "lesson", "grade", str(submissions), "--json", "--jobs", "2", "--timeout", "1500",
             "--executed", str(folder / "executed")],
            env=env, capture_output=True, text=True, timeout=1800,
        )
        (folder / "grades.json").write_text(result.stdout or json.dumps({"error": result.stderr[-3000:]}))

    return _shared(tmp_path_factory, "graded-solutions", make)


@pytest.fixture(scope="session")
def site(tmp_path_factory, graded_solutions):
    """The site, built once with `mkdocs build --strict` on the executed tutorials:
    (its folder, the build's return code and output)."""
    missing = [dist for module, dist in DOCS_PACKAGES.items() if not _installed(module)]
    if missing:
        pytest.fail(f"the docs tools are not installed ({', '.join(missing)}): pip install -e \".[docs]\"")

    def make(folder: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("PTM_LOAD_PLUGINS", "PTM_DISABLE_PLUGINS")}
        # NO_MKDOCS_2_WARNING silences Material's notice about its end of life, printed on every build.
        env.update(HF_HUB_OFFLINE="1", PTM_STRICT_PLUGINS="1", NO_MKDOCS_2_WARNING="1",
                   PTM_EXECUTED_TUTORIALS=str(graded_solutions / "executed"))
        build = subprocess.run(
            [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
             "--site-dir", str(folder / "site")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        (folder / "build.json").write_text(json.dumps([build.returncode, build.stdout + build.stderr]))

    folder = _shared(tmp_path_factory, "site", make)
    returncode, output = json.loads((folder / "build.json").read_text())
    return folder / "site", subprocess.CompletedProcess([], returncode, output, "")


def _page(site_dir: Path, path: str) -> str:
    page = site_dir / path / "index.html"
    assert page.is_file(), f"the site has no page {path}/"
    return page.read_text(encoding="utf-8")


def _text(page: str) -> str:
    """A page's visible text, tags removed and entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _headings(page: str) -> set[str]:
    return {_text(h).strip() for h in re.findall(r"<h\d[^>]*>(.*?)<a class=\"headerlink\"", page, re.S)}


def test_the_site_builds_in_strict_mode_without_warnings(site):
    _, build = site
    output = build.stdout + build.stderr
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{output}"
    assert "WARNING" not in output, f"the docs build warned:\n{output}"


def test_every_hook_has_its_section_in_the_hook_reference(site):
    site_dir, _ = site
    page = _page(site_dir, "hooks")
    hooks = [name for name, fn in vars(hookspecs).items() if name.startswith("ptm_") and inspect.isfunction(fn)]
    assert len(hooks) >= 20
    missing = [name for name in hooks if f'id="{name}"' not in page]
    assert not missing, f"hooks without a section on the hook reference page: {missing}"


def _command_paths(command: click.Command, ctx: click.Context) -> dict[str, click.Command]:
    """Every command under ``command``, by its full path ("ptm explain text")."""
    paths = {ctx.command_path: command}
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            paths.update(_command_paths(sub, click.Context(sub, info_name=name, parent=ctx)))
    return paths


def test_every_command_and_option_is_in_the_cli_reference(site):
    site_dir, _ = site
    page = _page(site_dir, "cli")
    cli = create_cli()
    commands = _command_paths(cli, click.Context(cli, info_name="ptm"))
    # the core's commands and those the built-in plugins add through ptm_register_commands
    assert {"ptm explain text", "ptm lesson run", "ptm plugins hooks", "ptm pretrain",
            "ptm predict-mask", "ptm privacy audit"} <= set(commands)
    assert "Sentinel.UNSET" not in page, "click's 'no default' marker shows as a default"
    missing = sorted(set(commands) - _headings(page))
    assert not missing, f"commands without a section on the command-line reference page: {missing}"
    text = _text(page)
    for path, command in commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert max(param.opts, key=len) in text, f"{path} {max(param.opts, key=len)} is not documented"


def test_every_registered_lesson_has_a_page_with_the_commands_that_run_it(site):
    site_dir, _ = site
    lessons = create_plugin_manager().registry.records("lesson")
    assert len(lessons) >= 6
    for lesson in lessons:
        text = _text(_page(site_dir, f"lessons/{lesson.id}"))
        assert lesson.title in text
        for step in lesson.outline:
            assert step[1:] in text, f"lesson {lesson.id}: outline step {step!r} is not on its page"
        commands = [f"ptm lesson notebook {lesson.id} --dest ."]
        if lesson.factory is not None:
            commands += [f"ptm lesson run {lesson.id} --quick", f"ptm lesson run {lesson.id}"]
        for command in commands:
            assert command in text, f"lesson {lesson.id}: its page does not give `{command}`"
    index = _page(site_dir, "lessons")
    assert all(f'href="{lesson.id}/"' in index for lesson in lessons)


def test_every_solution_notebook_gets_full_marks(graded_solutions):
    data = json.loads((graded_solutions / "grades.json").read_text())
    assert "notebooks" in data, f"ptm lesson grade failed: {data}"
    lessons = [l for l in create_plugin_manager().registry.records("lesson") if l.notebook]
    assert sorted(n["lesson"] for n in data["notebooks"]) == sorted(l.id for l in lessons)
    for notebook in data["notebooks"]:
        failed = [f"{q['name']}: {q['status']} {q['reason']}" for q in notebook["questions"] if q["status"] != "passed"]
        assert notebook["full_marks"] and not failed, f"{notebook['lesson']}: {notebook['error']} {failed}"
    assert data["all_passed"]
    # the lesson itself ran clean too, not only its exercises (the grader lets cells fail)
    for path in sorted((graded_solutions / "executed").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        errors = [o for c in cells if c["cell_type"] == "code" for o in c.get("outputs", []) if o["output_type"] == "error"]
        assert not errors, f"{path.name}: {errors[0]['ename']}: {errors[0]['evalue']}"


def test_every_tutorial_page_is_executed_with_its_math_rendered(site):
    site_dir, _ = site
    for notebook in sorted((ROOT / "tutorials").glob("*.ipynb")):
        page = _page(site_dir, f"tutorials/{notebook.stem}")
        body = page[page.index('<div class="jupyter-wrapper">'):]
        assert 'src="data:image/png;base64,' in body, f"{notebook.name}: its page shows no plot"
        assert "jp-OutputArea-output" in body, f"{notebook.name}: its page shows no outputs"
        assert "<math" in body, f"{notebook.name}: its page has no formula rendered"
        visible = _text(re.sub(r"<(code|pre|script|style)\b.*?</\1>", "", body, flags=re.S))
        assert "$$" not in visible, f"{notebook.name}: a formula is shown as raw $$...$$"
        assert "Run in quick mode with the reference answers" in _text(body)


def test_markdown_pages_render_math_too(site):
    site_dir, _ = site
    page = _page(site_dir, "methods")
    assert "<math" in page and "$$" not in _text(re.sub(r"<(code|pre|script|style)\b.*?</\1>", "", page, flags=re.S))


def test_every_tutorial_notebook_is_rendered(site):
    site_dir, _ = site
    notebooks = sorted((ROOT / "tutorials").glob("*.ipynb"))
    assert len(notebooks) >= 6
    for notebook in notebooks:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        heading = next(line[2:].strip() for cell in cells if cell["cell_type"] == "markdown"
                       for line in "".join(cell["source"]).splitlines() if line.startswith("# "))
        code = next("".join(cell["source"]).splitlines()[0] for cell in cells if cell["cell_type"] == "code")
        text = _text(_page(site_dir, f"tutorials/{notebook.stem}"))
        assert heading in text, f"{notebook.name} is not rendered (its title is missing)"
        assert code.strip() in text, f"{notebook.name} is rendered without its code"


def test_the_home_page_gives_readmes_two_setup_commands():
    block = re.search(r"## Set up.*?```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README.md has no set-up block"
    commands = [line for line in block.group(1).splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    home = (ROOT / "docs" / "index.md").read_text()
    for command in commands:
        assert command in home, f"docs/index.md does not give README's set-up command: {command}"
