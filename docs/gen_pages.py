"""MkDocs hooks (mkdocs.yml ``hooks:``): the pages that are generated, so nothing is written twice.

- ``lessons/index.md`` and ``lessons/<id>.md``, one per lesson the installed plugins register
  (``create_plugin_manager().registry.records("lesson")``), with what each teaches and the
  claim it measures taken from the course table of README.md;
- ``tutorials/index.md`` and ``tutorials/<name>.ipynb``: every notebook of ``tutorials/``,
  handed to mkdocs-jupyter where it lies (rendered, not executed);
- the nav entries of both, after the section index pages that mkdocs.yml names;
- the tables of registered records that ``<!-- generated: ... -->`` markers stand for
  (``records.md``, ``methods.md``);
- on the hook reference, stable anchors (``hooks.md#ptm_after_step``) and the docstrings'
  Args/Returns sections as lists: docs/hooks.md itself stays exactly what
  ``ptm plugins hooks --markdown`` prints.

Generated elsewhere: docs/hooks.md by ``ptm plugins hooks --markdown`` (a test keeps it fresh),
the command-line reference by mkdocs-click, the API pages by mkdocstrings.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
MARKER = re.compile(r"<!-- generated: ([a-z ]+) -->")
ROLE = re.compile(r":(?:class|func|meth|data|mod|attr|exc):<code>(~?)([^<]*)</code>")


@cache
def plugin_manager() -> Any:
    from toolkit.manager import create_plugin_manager

    return create_plugin_manager()


def _time(lesson: Any) -> str:
    parts = [f"notebook about {lesson.quick_minutes} min quick" if lesson.quick_minutes else "",
             f"{lesson.minutes} min full" if lesson.minutes else ""]
    if len(lesson.headless_minutes) == 2:
        parts.append("`ptm lesson run` {} min with `--quick`, {} min full".format(*lesson.headless_minutes))
    return ", ".join(p for p in parts if p) or "not measured"


@cache
def course_table() -> dict[str, tuple[str, str]]:
    """README.md's course table: lesson id -> (what it teaches, the claim it measures)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.partition("\n## The course")[2].partition("\n## ")[0]
    rows = {}
    for line in section.splitlines():
        match = re.match(r"\|\s*`([^`]+)`\s*\|(.*)\|(.*)\|\s*$", line)
        if match:
            rows[match.group(1)] = (match.group(2).strip(), match.group(3).strip())
    return rows


@cache
def lessons() -> list[Any]:
    """The registered lessons in course order (their ``order``, then id)."""
    from toolkit.lessons import course_order

    return course_order(plugin_manager().registry.records("lesson"))


@cache
def notebooks() -> list[Path]:
    return sorted(TUTORIALS.glob("*.ipynb"))


def notebook_of(lesson: Any) -> Path | None:
    """The notebook in tutorials/ a lesson names, if it is one of them."""
    name = lesson.notebook.rpartition(":")[2]
    path = TUTORIALS / name
    return path if name and path in notebooks() else None


def tutorial_order() -> list[Path]:
    """The notebooks in course order, then any that no lesson names, by name."""
    named = list(dict.fromkeys(path for path in map(notebook_of, lessons()) if path is not None))
    return named + [path for path in notebooks() if path not in named]


def notebook_title(path: Path) -> str:
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return path.stem


def _cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def lesson_page(lesson: Any) -> str:
    from toolkit.errors import RegistryError

    registry = plugin_manager().registry
    teaches, claim = course_table().get(lesson.id, ("", ""))
    lines = [
        f"# {lesson.title}",
        "",
        _sentence(lesson.summary),
        "",
        f"- **Lesson id**: `{lesson.id}`",
        f"- **Time** (measured on 2 CPU cores): {_time(lesson)}",
        f"- **From plugin**: `{lesson.plugin}`",
        f"- **Notebook**: `{lesson.notebook}`" if lesson.notebook else "- **Notebook**: none",
        "",
    ]
    if teaches:
        lines += ["## What it teaches", "", _sentence(teaches), ""]
    if lesson.outline:
        lines += ["## Outline", ""]
        lines += [f"{number}. {_sentence(step)}" for number, step in enumerate(lesson.outline, start=1)]
        lines.append("")
    if lesson.needs:
        lines += ["## What it needs", "", "| kind | id | what it is | from plugin |", "|---|---|---|---|"]
        for need in lesson.needs:
            kind, _, ident = need.partition(":")
            try:
                record = registry.get(kind, ident)
                lines.append(f"| {kind} | `{ident}` | {_cell(record.summary)} | `{record.plugin}` |")
            except RegistryError:  # a record of a plugin not installed here: say so, keep the page
                lines.append(f"| {kind} | `{ident}` | not installed | |")
        lines.append("")
    if claim:
        lines += [
            "## The claim it measures",
            "",
            f"{_sentence(claim)} The lesson measures this on held-out data and says whether it "
            "held, in its last printed line and at the end of its `report.html`.",
            "",
        ]
    lines += [
        "## Run it",
        "",
        "With ptm-toolkit installed (the first command under [Set up](../index.md#set-up)):",
        "",
    ]
    commands = [(f"ptm lesson show {lesson.id}", "the outline, in a terminal")]
    if lesson.factory is not None:
        commands += [
            (f"ptm lesson run {lesson.id} --quick", "every step, fewer epochs"),
            (f"ptm lesson run {lesson.id}", "the full lesson"),
        ]
    commands.append((f"ptm lesson notebook {lesson.id} --dest .", "the notebook, to open and edit"))
    width = max(len(command) for command, _ in commands) + 2
    lines += ["```bash", *(f"{command:<{width}}# {comment}" for command, comment in commands), "```", ""]
    if lesson.factory is not None:
        lines += [
            "`ptm lesson run` prints the key numbers and whether the claim held, and writes "
            f"`runs/{lesson.id}-quick/` (or `runs/{lesson.id}/`) with `metrics.json`, the plots and "
            "a self-contained `report.html` to open in a browser. `--out DIR` writes elsewhere, "
            "`--overwrite` replaces an earlier run and `--device cpu` keeps the lesson off a GPU.",
            "",
        ]
    else:
        lines += ["This lesson has no headless runner: work through its notebook.", ""]
    path = notebook_of(lesson)
    if path is not None:
        lines += [
            "## The notebook",
            "",
            f"[Read the notebook `{path.name}` here](../tutorials/{path.name}), rendered without its "
            "outputs; the copy `ptm lesson notebook` writes runs in Jupyter "
            f"(`jupyter lab {path.name}`).",
            "",
        ]
    return "\n".join(lines)


def lessons_index() -> str:
    lines = [
        "# The course",
        "",
        "Each lesson is a Jupyter notebook and a headless runner. `ptm lesson run ID --quick` does "
        "every step with fewer epochs (in a minute or two on a laptop CPU), prints the key "
        "numbers and writes `runs/ID-quick/` with `metrics.json`, plots and a self-contained "
        "`report.html`; without `--quick` it runs the full lesson. Each lesson ends with a claim "
        "measured on held-out data and says whether it held.",
        "",
        "These pages are generated from the lessons the installed plugins register: "
        "`ptm lesson list` shows the same list in a terminal.",
        "",
        "| lesson | minutes, quick / full | what it does |",
        "|---|---|---|",
    ]
    for lesson in lessons():
        lines.append(f"| [{_cell(lesson.title)}]({lesson.id}.md) (`{lesson.id}`) | {lesson.quick_minutes or '-'} / {lesson.minutes or '-'} | "
                     f"{_cell(_sentence(lesson.summary))} |")
    lines += [
        "",
        "New to the toolkit? Start with [`finetuning`](finetuning.md): the other lessons build on "
        "the model, data and run folder it introduces. The `write-a-plugin` lesson leads into the "
        "[plugin guide](../plugins.md).",
        "",
    ]
    return "\n".join(lines)


def tutorials_index() -> str:
    by_notebook = {notebook_of(lesson): lesson for lesson in lessons()}
    lines = [
        "# Tutorials",
        "",
        "The notebooks of `tutorials/`, one per lesson, rendered as they are committed: without "
        "outputs, because the site does not run them (the test suite does). To run one, copy it "
        "out and open it in Jupyter:",
        "",
        "```bash",
        "ptm lesson notebook finetuning --dest .",
        "jupyter lab finetuning.ipynb",
        "```",
        "",
        "| notebook | title | lesson |",
        "|---|---|---|",
    ]
    for path in tutorial_order():
        lesson = by_notebook.get(path)
        link = f"[`{lesson.id}`](../lessons/{lesson.id}.md)" if lesson else ""
        lines.append(f"| [`{path.name}`]({path.name}) | {_cell(notebook_title(path))} | {link} |")
    lines.append("")
    return "\n".join(lines)


def records_table(kind: str | None = None) -> str:
    """A table of the registered records, or of one kind with that kind's own column."""
    extra = {"explainer": "reference", "privacy": "guarantee"}.get(kind or "")
    head = ["id", "what it is"] + ([extra] if extra else []) + ["from plugin"]
    if kind is None:
        head.insert(0, "kind")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    registry = plugin_manager().registry
    for record in registry.records(kind) if kind else registry:
        cells = [f"`{record.id}`", _cell(record.summary)] + ([_cell(getattr(record, extra))] if extra else [])
        cells.append(f"`{record.plugin}`")
        if kind is None:
            cells.insert(0, record.kind)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


GENERATED = {
    "registered records": lambda: records_table(),
    "explainers": lambda: records_table("explainer"),
    "privacy": lambda: records_table("privacy"),
}

DOCSTRING_SECTION = re.compile(r"^(Args|Returns|Raises|Yields):\n((?:    .*\n?)+)", re.M)
VERSION = re.compile(r"^\.\. version(added|changed):: (\S+)(.*)$", re.M)


def hook_reference(markdown: str) -> str:
    """docs/hooks.md as committed is the docstrings verbatim; on the site, give each hook a
    stable anchor (hooks.md#ptm_after_step) and show the Google-style sections as lists."""

    def section(match: re.Match[str]) -> str:
        items, current = [], None
        for line in match[2].splitlines():
            if line.startswith("        ") and current is not None:
                items[current] += " " + line.strip()
            elif line.strip():
                items.append(line.strip())
                current = len(items) - 1
        if match[1] == "Args":
            items = [re.sub(r"^(\w+):", r"`\1`:", item) for item in items]
            return f"**{match[1]}**\n\n" + "\n".join(f"- {item}" for item in items) + "\n"
        return f"**{match[1]}**: " + " ".join(items) + "\n"

    def version(match: re.Match[str]) -> str:
        what = "Added" if match[1] == "added" else "Changed"
        rest = match[3].strip()
        return f"*{what} in version {match[2]}*" + (f": {rest}" if rest else ".")

    markdown = re.sub(r"^## `(ptm_\w+)(.*)`$", r"## `\1\2` {#\1}", markdown, flags=re.M)
    return VERSION.sub(version, DOCSTRING_SECTION.sub(section, markdown))


def on_config(config: Any) -> Any:
    for cached in (plugin_manager, course_table, lessons, notebooks):
        cached.cache_clear()  # `mkdocs serve` runs every rebuild in one process

    for item in config.nav:
        if not isinstance(item, dict):
            continue
        [entries] = item.values()
        if entries == ["lessons/index.md"]:
            entries += [{lesson.title: f"lessons/{lesson.id}.md"} for lesson in lessons()]
        elif entries == ["tutorials/index.md"]:
            entries += [f"tutorials/{path.name}" for path in tutorial_order()]
    return config


@event_priority(50)  # before mkdocs-jupyter (priority 0) picks the notebooks up
def on_files(files: Files, config: Any) -> Files:
    generated = {
        "lessons/index.md": lessons_index(),
        "tutorials/index.md": tutorials_index(),
        **{f"lessons/{lesson.id}.md": lesson_page(lesson) for lesson in lessons()},
    }
    for uri, content in generated.items():
        files.append(File.generated(config, uri, content=content))
    # The notebooks as files whose source folder is the repository root, not generated files:
    # mkdocs-jupyter finds a notebook through its File's src_dir, which a generated one lacks.
    for path in notebooks():
        files.append(File(f"tutorials/{path.name}", src_dir=str(ROOT), dest_dir=config.site_dir,
                          use_directory_urls=config.use_directory_urls))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if page.file.src_uri == "hooks.md":
        markdown = hook_reference(markdown)
    return MARKER.sub(lambda match: GENERATED[match[1]](), markdown)


def on_page_content(html: str, page: Any, config: Any, files: Files) -> str:
    # Docstrings use Sphinx roles (:class:`~toolkit.registry.ModelSpec`): show just the name in code.
    html = ROLE.sub(lambda m: f"<code>{m[2].rpartition('.')[2] if m[1] else m[2]}</code>", html)
    # mkdocs-click 0.9 shows click 8.3's "no default" sentinel as a default (mkdocs-click PR #95).
    return html.replace("<td><code>Sentinel.UNSET</code></td>", "<td></td>")
