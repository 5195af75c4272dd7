"""MkDocs hooks (mkdocs.yml ``hooks:``): the pages that are generated, so nothing is written twice.

- ``lessons/index.md`` and ``lessons/<id>.md``, one per lesson the installed plugins register
  (``create_plugin_manager().registry.records("lesson")``), with what each teaches and the
  claim it measures taken from the course table of README.md;
- ``tutorials/index.md`` and ``tutorials/<name>.ipynb``: every notebook of ``tutorials/``,
  executed in quick mode with its reference answers (``executed_notebook``) and handed to
  mkdocs-jupyter with its answer cells blank (``site_notebook``);
- math: every formula, in Markdown pages and notebooks, as MathML (``on_post_page``);
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

import html
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from mkdocs.plugins import event_priority, get_plugin_logger
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[1]
log = get_plugin_logger("ptm")
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
            f"[Read the notebook `{path.name}` here](../tutorials/{path.name}), run in quick mode "
            "with its outputs and plots. The copy `ptm lesson notebook` writes is the student's: its "
            "exercises are blank, `grader.check(\"name\")` under each tells whether an answer is "
            f"right, and `ptm lesson grade {path.name}` grades the whole notebook "
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
        "Each notebook holds graded exercises, in which the student writes the algorithm the lesson "
        "teaches and `grader.check` compares it with the real library, and written questions: "
        "`ptm lesson notebook ID` writes the student version, `--solutions` the instructor's, and "
        "`ptm lesson grade` grades one notebook or a folder of them "
        "([exercises and grading](../teaching.md)).",
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
        "The notebooks of `tutorials/`, one per lesson, shown as they ran in quick mode with the "
        "reference answers (their answer cells blank, as students get them). To work through one, "
        "write the student version, open it in Jupyter, and grade it:",
        "",
        "```bash",
        "ptm lesson notebook finetuning --dest .",
        "jupyter lab finetuning.ipynb",
        "ptm lesson grade finetuning.ipynb",
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
        if entries and entries[0] == "lessons/index.md":
            entries[1:1] = [{lesson.title: f"lessons/{lesson.id}.md"} for lesson in lessons()]
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
    # The executed notebooks as files in a folder of their own, not generated files:
    # mkdocs-jupyter finds a notebook through its File's src_dir, which a generated one lacks.
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="ptm-site-tutorials-"))
    for path in notebooks():
        site_notebook(path, folder)
        files.append(File(f"tutorials/{path.name}", src_dir=str(folder), dest_dir=config.site_dir,
                          use_directory_urls=config.use_directory_urls))
    return files


# -- executed tutorials -----------------------------------------------------------------------
EXECUTED_ENV = "PTM_EXECUTED_TUTORIALS"
NOTE = (
    "*Run in quick mode with the reference answers when this site was built; the answer cells are "
    "shown blank, as `ptm lesson notebook` gives them to students.*"
)


def executed_notebook(path: Path) -> Path:
    """``path`` executed in quick mode with its reference answers: from the folder that
    ``$PTM_EXECUTED_TUTORIALS`` names (the test suite's grading run leaves them there), else
    from .cache/executed/ keyed by the notebook's content, running the grader when missing
    (a few minutes for the whole course on two cores)."""
    import hashlib
    import os

    folder = os.environ.get(EXECUTED_ENV)
    if folder:
        found = Path(folder) / path.name
        if not found.is_file():
            raise FileNotFoundError(f"{EXECUTED_ENV}={folder} holds no {path.name}; grade the solutions "
                                    f"with ptm lesson grade DIR --executed {folder}")
        return found
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    found = ROOT / ".cache" / "executed" / digest / path.name
    if not found.is_file():
        import tempfile

        from toolkit.grading import assign, grade_notebook

        with tempfile.TemporaryDirectory() as tmp:
            submission = Path(tmp) / path.name
            submission.write_bytes(assign(path).solution.read_bytes())
            log.info("executing %s for the site (quick mode)", path.name)
            graded = grade_notebook(plugin_manager(), submission, executed=found)
        if not found.is_file():
            raise RuntimeError(f"{path.name} could not be executed for the site: {graded.error}")
    return found


def site_notebook(path: Path, folder: Path) -> Path:
    """What the site shows for tutorials/<name>: the executed notebook, its answer cells blank."""
    import nbformat

    from toolkit.grading import assign, is_assign_source

    executed = nbformat.read(executed_notebook(path), as_version=4)
    if is_assign_source(path):
        student = nbformat.read(assign(path).student, as_version=4)
        if len(student.cells) == len(executed.cells):
            for ran, blank in zip(executed.cells, student.cells):
                tags = ran.get("metadata", {}).get("tags", [])
                if "otter_assign_solution_cell" in tags:
                    ran.source = blank.source
                if ran.cell_type == "code" and ("otter_assign_solution_cell" in tags or "grader.check(" in ran.source):
                    ran.outputs, ran.execution_count = [], None
    title = next((i for i, c in enumerate(executed.cells) if c.cell_type == "markdown"), 0)
    executed.cells.insert(title + 1, nbformat.v4.new_markdown_cell(NOTE))
    out = folder / "tutorials" / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(executed, out)
    return out


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if page.file.src_uri == "hooks.md":
        markdown = hook_reference(markdown)
    return MARKER.sub(lambda match: GENERATED[match[1]](), markdown)


def on_page_content(html: str, page: Any, config: Any, files: Files) -> str:
    # Docstrings use Sphinx roles (:class:`~toolkit.registry.ModelSpec`): show just the name in code.
    html = ROLE.sub(lambda m: f"<code>{m[2].rpartition('.')[2] if m[1] else m[2]}</code>", html)
    # mkdocs-click 0.9 shows click 8.3's "no default" sentinel as a default (mkdocs-click PR #95).
    return html.replace("<td><code>Sentinel.UNSET</code></td>", "<td></td>")


# -- math: LaTeX in the pages becomes MathML when the site is built ----------------------------
# Browsers render MathML themselves (no script, nothing fetched), so formulas show offline too.
# Python-Markdown pages mark math with pymdownx.arithmatex (\( \) and \[ \]); notebook pages keep
# $...$ and $$...$$ as written (nbconvert's markdown leaves math alone).
SKIP_TAGS = ("code", "pre", "script", "style", "textarea", "math")
TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)[^>]*>|<!--.*?-->", re.S)
MATH = re.compile(
    r"\$\$(?P<d1>.+?)\$\$|\\\[(?P<d2>.+?)\\\]"
    r"|\\\((?P<i1>.+?)\\\)|(?<![\\$\w])\$(?!\s)(?P<i2>[^$\n]+?)(?<![\s\\])\$(?![\w$])",
    re.S,
)


def _mathml(latex: str, display: bool) -> str:
    from latex2mathml.converter import convert

    return convert(html.unescape(latex).strip(), display="block" if display else "inline")


def _render_math(text: str, where: str) -> str:
    def one(match: re.Match[str]) -> str:
        latex = next(group for group in match.groups() if group is not None)
        display = match["d1"] is not None or match["d2"] is not None
        try:
            return _mathml(latex, display)
        except Exception as error:  # a formula the converter cannot read fails the build, named
            raise ValueError(f"{where}: cannot render the formula {latex.strip()!r}: {error}") from error

    return MATH.sub(one, text)


def render_math(page_html: str, where: str = "page") -> str:
    """``page_html`` with every formula outside code, scripts and styles turned into MathML."""
    out, skip, position = [], 0, 0
    for tag in TAG.finditer(page_html):
        text = page_html[position:tag.start()]
        out.append(text if skip else _render_math(text, where))
        out.append(tag.group(0))
        name = (tag.group(2) or "").lower()
        if name in SKIP_TAGS and not tag.group(0).endswith("/>"):
            skip = max(0, skip + (-1 if tag.group(1) else 1))
        position = tag.end()
    tail = page_html[position:]
    out.append(tail if skip else _render_math(tail, where))
    return "".join(out)


def on_post_page(output: str, page: Any, config: Any) -> str:
    # arithmatex wraps its math in spans and divs: MathML replaces the delimiters inside them
    return render_math(output, page.file.src_uri)
