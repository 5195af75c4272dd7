"""``report.html``: one self-contained page that tells the story of a run folder.

The page holds a summary from ``config.json`` and ``metrics.json``, the sections a caller
(e.g. a lesson) passes, then what the folder itself shows: headline metrics, the per-epoch
history, the confusion matrix, the privacy budget, the cost, every PNG and every sub-run.
Images are embedded as ``data:`` URIs and the CSS is inline, so the file can be mailed or
opened offline; a Content-Security-Policy forbids any other resource and every script.
Every value read from a file is HTML-escaped, and a missing or odd key leaves out a line,
never the page.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError, PtmError
from toolkit.runs import RunFolder, write_text_atomic

REPORT_NAME = "report.html"
# The sections a report was written with (a lesson's story), so ``ptm report`` rebuilds the
# same page instead of a poorer one.
SECTIONS_NAME = "report.json"

# Shown in this order in "Headline"; the rest of metrics.json is in the other sections.
_HEADLINE = {
    "accuracy": "accuracy",
    "f1": "macro-F1",
    "masked_accuracy": "masked-token accuracy (at the [MASK]ed places)",
    "chosen_accuracy": "masked-token accuracy (at every chosen place)",
    "initial_masked_accuracy": "masked-token accuracy before training ([MASK]ed places)",
    "unigram_masked_accuracy": "always guessing the commonest token ([MASK]ed places)",
    "copy_chosen_accuracy": "copying the input token (every chosen place)",
    "perplexity": "held-out perplexity",
    "held_out_loss": "held-out loss",
    "n": "test examples",
}
_SUMMARY = {
    "command": "command",
    "model": "model",
    "data": "data",
    "corpus": "corpus",
    "init": "initialised from",
    "trainer": "trainer",
    "privacy": "privacy",
    "status": "status",
    "started": "started",
    "device": "device",
}
_PRIVACY = {
    "epsilon": "epsilon spent (ε)",
    "target_epsilon": "target epsilon",
    "delta": "delta (δ)",
    "noise_multiplier": "noise multiplier",
    "max_grad_norm": "clipping norm",
    "sample_rate": "sample rate",
    "steps": "steps",
    "accountant": "accountant",
}
_COST = {
    "train_seconds": ("training time", " s"),
    "seconds": ("total time", " s"),
    "train_examples": ("training examples", ""),
    "steps": ("optimizer steps", ""),
    "tokens_seen": ("tokens seen", ""),
    "train_flops_estimate": ("training FLOPs (estimate)", ""),
    "examples_per_second": ("throughput", " examples/s"),
    "tokens_per_second": ("throughput", " tokens/s"),
    "trainable_parameters": ("trainable parameters", ""),
    "total_parameters": ("parameters", ""),
    "parameters": ("parameters", ""),
}
# Files that are the run's own records, not explanations.
_RECORD_FILES = {"config.json", "metrics.json", "checksums.json", SECTIONS_NAME}

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;color:#222;
background:#fff;max-width:62rem;margin:2rem auto;padding:0 1.2rem}
h1{font-size:1.7rem;margin:0 0 .8rem}
h2{font-size:1.25rem;margin:2rem 0 .6rem;padding-bottom:.2rem;border-bottom:1px solid #ddd}
h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-size:.92rem}
th,td{border:1px solid #ddd;padding:.25rem .65rem;text-align:left;vertical-align:top}
th{background:#f6f6f6;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1rem 0}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption,.note{color:#666;font-size:.88rem}
.missing{color:#a33}
"""
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'none'; base-uri 'none'"


@dataclass(frozen=True)
class Section:
    """A block of narrative a caller adds to the report, shown before the automatic sections.

    Attributes:
        title: the section's heading.
        text: plain text; blank lines separate paragraphs. It is escaped, never markup.
        numbers: name -> value, shown as a two-column table.
        images: PNG (or JPEG, SVG, GIF) files to embed: absolute, relative to the run folder,
            or relative to the current folder (e.g. ``out / "curves.png"`` for a relative ``out``).
        html: trusted, pre-rendered HTML inserted as is (e.g. ``explain_views.as_html``).
    """

    title: str
    text: str = ""
    numbers: dict[str, Any] = field(default_factory=dict, hash=False)
    images: tuple[Path, ...] = ()
    html: str = ""

    def __post_init__(self) -> None:
        # A list of str paths is the natural thing to pass; store what the type promises.
        object.__setattr__(self, "images", tuple(Path(p) for p in self.images))


def write_report(
    run_dir: str | os.PathLike[str],
    *,
    title: str | None = None,
    sections: Sequence[Section] | None = None,
    path: str | os.PathLike[str] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write ``report.html`` (or ``path``) for the run folder ``run_dir`` and return its path.

    The ``sections`` (and ``title``) given are kept in ``report.json`` beside the page; a later
    call without sections (``ptm report RUN``) rebuilds the page from them, so a lesson's
    report keeps its story. The page is written to a temporary file beside its target and
    renamed into place, so a reader never sees half a report. ``title`` defaults to the saved
    one, then to the folder's name.

    Raises:
        ConfigError: ``run_dir`` is missing, not a folder, or not a ptm run (neither a
            ``config.json`` with a ``command`` nor a ``metrics.json`` with a ``status``); its
            ``config.json`` or ``metrics.json`` is not a JSON object; or ``path`` exists and
            ``overwrite`` is false.
    """
    folder = Path(run_dir)
    if not folder.exists():
        raise ConfigError(f"run folder {folder} does not exist; give the --out folder of a ptm run")
    if not folder.is_dir():
        raise ConfigError(f"{folder} is a file, not a run folder; give the --out folder of a ptm run")
    _check_run(folder)
    target = Path(path) if path is not None else folder / REPORT_NAME
    if target.exists() and not overwrite:
        raise ConfigError(f"{target} already exists; pass overwrite=True or choose another path")
    if sections is None:
        saved_title, sections = load_sections(folder)
        title = title or saved_title
    else:
        sections = [_anchored(section, folder) for section in sections]
        if sections:
            write_text_atomic(folder / SECTIONS_NAME, json.dumps(
                {"title": title, "sections": [_section_record(s) for s in sections]}, indent=2, default=str
            ) + "\n")
    page = _page(folder, title or folder.resolve().name, sections)
    write_text_atomic(target, page)
    return target


def _check_run(folder: Path) -> None:
    """Refuse, before anything is written, a folder ptm did not write (a report would land
    among someone else's files), a run whose records are not JSON objects, and a run whose
    model is tampered with (custom code, pickles, weights off their SHA-256)."""
    run = RunFolder(folder)
    config = run.read_json("config.json", missing={})
    metrics = run.read_json("metrics.json", missing={})
    if "command" not in config and "status" not in metrics:
        raise ConfigError(
            f"{folder} is not a ptm run folder (no config.json or metrics.json from ptm), so ptm "
            "will not write report.html into it; give the --out folder of a ptm run"
        )
    if run.model_dir.is_dir():
        run.verify_weights()


def load_sections(folder: Path) -> tuple[str | None, list[Section]]:
    """The title and sections a report in ``folder`` was written with (none if never saved or
    unreadable: the page then shows what the folder itself holds)."""
    record = _read_object(folder / SECTIONS_NAME)
    sections = []
    for item in record.get("sections") or []:
        if not isinstance(item, dict) or not isinstance(item.get("title"), str):
            continue
        numbers = item.get("numbers")
        images = item.get("images")
        sections.append(Section(
            title=item["title"],
            text=str(item.get("text") or ""),
            numbers=numbers if isinstance(numbers, dict) else {},
            # Only pictures inside the folder: a copied folder's record cannot embed your files.
            images=tuple(str(i) for i in images if isinstance(i, str) and _inside(i)) if isinstance(images, list) else (),
            # Pre-rendered views (explanations); the page's Content-Security-Policy allows no
            # script, no form and no outside resource, whatever a copied folder holds here.
            html=str(item.get("html") or ""),
        ))
    title = record.get("title")
    return (title if isinstance(title, str) else None), sections


def _inside(relative: str) -> bool:
    path = Path(relative)
    return not path.is_absolute() and ".." not in path.parts and not path.drive


def _resolve_image(image: Path, folder: Path) -> Path:
    """Where an image named by a caller is: absolute, under the run folder, or (a path built
    from a relative ``out``) under the current folder."""
    if image.is_absolute():
        return image
    for candidate in (folder / image, image):
        if candidate.is_file():
            return candidate.absolute()
    return folder / image


def _anchored(section: Section, folder: Path) -> Section:
    """``section`` with its image paths made relative to the run folder where they lie inside
    it, so that the saved sections still work after the folder is moved or opened from
    elsewhere."""
    images = []
    for image in section.images:
        path = _resolve_image(image, folder)
        try:
            images.append(path.resolve().relative_to(folder.resolve()))
        except ValueError:
            images.append(path)
    return Section(section.title, section.text, section.numbers, tuple(images), section.html)


def _section_record(section: Section) -> dict[str, Any]:
    return {
        "title": section.title,
        "text": section.text,
        "numbers": dict(section.numbers) if isinstance(section.numbers, Mapping) else {},
        "images": [str(i) for i in section.images],
        "html": section.html,
    }


def _page(folder: Path, title: str, sections: Sequence[Section]) -> str:
    config = _read_object(folder / "config.json")
    metrics = _read_object(folder / "metrics.json")
    shown: set[Path] = set()
    body = [f"<h1>{_esc(title)}</h1>", _summary(folder, config, metrics)]
    for section in sections:
        body.append(_section(section, folder, shown))
    body += [
        _headline(metrics),
        _history(metrics),
        _confusion(metrics, config),
        _privacy(metrics),
        _cost(metrics),
        _explanations(folder),
        _plots(folder, shown),
        _sub_runs(folder, shown),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # An empty icon, so that no browser goes looking for favicon.ico.
        '<link rel="icon" href="data:,">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


# -- sections ------------------------------------------------------------------------------


def _summary(folder: Path, config: dict[str, Any], metrics: dict[str, Any]) -> str:
    facts = {**config, **{k: v for k, v in metrics.items() if k in _SUMMARY and v is not None}}
    if not (folder / "metrics.json").exists():
        facts["status"] = "no metrics.json (running, interrupted, or not a single run)"
    elif not metrics:
        facts["status"] = "metrics.json is unreadable or not a JSON object"
    rows = [(label, facts[key]) for key, label in _SUMMARY.items() if facts.get(key) not in (None, "")]
    rows.insert(0, ("folder", str(folder)))
    if metrics.get("error"):
        rows.append(("error", metrics["error"]))
    return _pairs_table(rows)


def _section(section: Section, folder: Path, shown: set[Path]) -> str:
    parts = [f"<h2>{_esc(section.title)}</h2>"]
    parts += [f"<p>{_esc(p.strip())}</p>" for p in section.text.split("\n\n") if p.strip()]
    if isinstance(section.numbers, Mapping) and section.numbers:
        parts.append(_pairs_table(section.numbers.items()))
    if section.html:
        parts.append(section.html)
    for image in section.images:
        image = _resolve_image(image, folder)
        shown.add(image.resolve())
        parts.append(_figure(image))
    return "\n".join(parts)


def _headline(metrics: dict[str, Any]) -> str:
    rows = [(label, metrics[key]) for key, label in _HEADLINE.items() if _is_number(metrics.get(key))]
    return "<h2>Headline</h2>\n" + _pairs_table(rows) if rows else ""


def _history(metrics: dict[str, Any]) -> str:
    parts = []
    for key, heading in (("history", "Per-epoch history"), ("evaluations", "Held-out evaluations")):
        table = _records_table(metrics.get(key))
        if table:
            parts.append(f"<h2>{heading}</h2>\n{table}")
    return "\n".join(parts)


def _confusion(metrics: dict[str, Any], config: dict[str, Any]) -> str:
    final = metrics.get("final") if isinstance(metrics.get("final"), dict) else {}
    matrix = final.get("confusion_matrix", metrics.get("confusion_matrix"))
    if not (
        isinstance(matrix, list)
        and matrix
        and all(isinstance(row, list) and len(row) == len(matrix) for row in matrix)
        and all(_is_number(v) for row in matrix for v in row)
    ):
        return ""
    names = metrics.get("label_names") or config.get("label_names")
    if not (isinstance(names, list) and len(names) == len(matrix)):
        names = list(range(len(matrix)))
    head = "".join(f"<th>predicted {_esc(n)}</th>" for n in names)
    body = "".join(
        f"<tr><th>true {_esc(n)}</th>" + "".join(_td(v) for v in row) + "</tr>"
        for n, row in zip(names, matrix)
    )
    return (
        "<h2>Confusion matrix</h2>\n<p class=\"note\">Rows: the true label; columns: the model's "
        f"prediction; on the held-out test split.</p>\n<table><tr><th></th>{head}</tr>{body}</table>"
    )


def _privacy(metrics: dict[str, Any]) -> str:
    epsilon = metrics.get("epsilon")
    if not _is_number(epsilon):
        return ""
    delta = metrics.get("delta")
    if math.isinf(epsilon):
        words = "Trained without noise (ε = ∞): the model carries no differential-privacy guarantee."
    else:
        guarantee = f"({epsilon:.2f}, {_sci(delta)})-DP" if _is_number(delta) else f"ε = {epsilon:.2f}"
        words = f"The finished model is {guarantee}"
        if isinstance(metrics.get("accountant"), str):
            words += f", by the {metrics['accountant'].upper()} accountant"
        if _is_number(metrics.get("steps")):
            words += f" after {_fmt(metrics['steps'])} noisy steps"
        words += (
            ": adding or removing any one training example changes the probability of any "
            "outcome of training by at most a factor e^ε, except with probability δ."
        )
    rows = [(label, metrics[key]) for key, label in _PRIVACY.items() if metrics.get(key) is not None]
    return f"<h2>Privacy budget</h2>\n<p>{_esc(words)}</p>\n{_pairs_table(rows)}"


def _cost(metrics: dict[str, Any]) -> str:
    rows = []
    for key, (label, unit) in _COST.items():
        value = metrics.get(key)
        if _is_number(value):
            text = _sci(value) if key == "train_flops_estimate" else _fmt(value)
            rows.append((label, text + unit))
    return "<h2>Cost</h2>\n" + _pairs_table(rows) if rows else ""


def _explanations(folder: Path) -> str:
    parts = []
    for path in sorted(folder.glob("*.json")):
        if path.name in _RECORD_FILES:
            continue
        fragment = _explanation_html(_read_json(path))
        if fragment:
            parts.append(f"<h3>{_esc(path.name)}</h3>\n{fragment}")
    return "<h2>Explanations</h2>\n" + "\n".join(parts) if parts else ""


def _plots(folder: Path, shown: set[Path]) -> str:
    figures = [_figure(p) for p in sorted(folder.glob("*.png")) if p.resolve() not in shown]
    return "<h2>Plots</h2>\n" + "\n".join(figures) if figures else ""


def _sub_runs(folder: Path, shown: set[Path]) -> str:
    parts = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and (p / "metrics.json").is_file()):
        metrics = _read_object(sub / "metrics.json")
        rows = [("status", metrics.get("status", "unknown"))]
        rows += [(label, metrics[key]) for key, label in _HEADLINE.items() if _is_number(metrics.get(key))]
        if _is_number(metrics.get("epsilon")):
            rows.append(("epsilon spent (ε)", metrics["epsilon"]))
        figures = [_figure(p) for p in sorted(sub.glob("*.png")) if p.resolve() not in shown]
        parts.append(f"<h3>{_esc(sub.name)}</h3>\n{_pairs_table(rows)}\n" + "\n".join(figures))
    return "<h2>Runs in this folder</h2>\n" + "\n".join(parts) if parts else ""


# -- building blocks -----------------------------------------------------------------------


def _pairs_table(rows: Iterable[tuple[Any, Any]]) -> str:
    cells = "".join(f"<tr><th>{_esc(name)}</th>{_td(value)}</tr>" for name, value in rows)
    return f"<table>{cells}</table>" if cells else ""


def _td(value: Any) -> str:
    # Numbers right-aligned, so that digits line up down a column.
    attr = ' class="num"' if _is_number(value) else ""
    return f"<td{attr}>{_esc(_fmt(value))}</td>"


def _records_table(records: Any) -> str:
    """A list of dicts (one per epoch or evaluation) as a table, columns in first-seen order."""
    if not isinstance(records, list):
        return ""
    rows = [r for r in records if isinstance(r, dict)]
    columns = list(dict.fromkeys(key for row in rows for key in row))
    if not columns:
        return ""
    head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(_td(row.get(c)) for c in columns) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".svg": "image/svg+xml"}


def _figure(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower())
    try:
        data = path.read_bytes() if mime else None
    except OSError:
        data = None
    if data is None:
        return f'<p class="missing">image not shown: {_esc(path.name)} (missing or not an image)</p>'
    uri = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    name = _esc(path.name)
    return f'<figure><img src="{uri}" alt="{name}"><figcaption>{name}</figcaption></figure>'


def _explanation_html(data: Any) -> str:
    """The attribution view of a list of saved explanations; "" for any other JSON."""
    if not (isinstance(data, list) and data and all(isinstance(d, dict) and "word_attributions" in d for d in data)):
        return ""
    from toolkit.explain_views import as_html
    from toolkit.explanations import Explanation

    try:
        explanations = [
            Explanation(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}) for d in data
        ]
        return as_html(explanations)
    except (TypeError, ValueError, KeyError, IndexError, PtmError):
        return ""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_object(path: Path) -> dict[str, Any]:
    data = _read_json(path)
    return data if isinstance(data, dict) else {}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fmt(value: Any) -> str:
    """A value as a person reads it: 0.873, 1,234, 26.7, 5e-4, ∞."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        size = abs(value)
        if math.isnan(value):
            return "n/a"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if size == 0:
            return "0"
        if size < 1e-3 or size >= 1e9:
            return _sci(value)
        if size >= 1000:
            return f"{value:,.0f}"
        if size >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}"
    if isinstance(value, str):
        return value
    text = json.dumps(value, default=str)
    return text if len(text) <= 120 else text[:117] + "..."


def _sci(value: Any) -> str:
    """Short scientific notation, 5e-4 rather than 5.00e-04; other values as _fmt has them."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value == 0:
        return _fmt(value)
    mantissa, exponent = f"{value:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def _esc(value: Any) -> str:
    return html.escape(str(value))
