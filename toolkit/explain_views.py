"""Explanations for people: coloured terminal text, an HTML fragment for notebooks, a PNG heatmap.

Every view colours a word by its share of the largest |attribution| in its own sentence:
green pushes towards the explained label, red pushes against it. rich and matplotlib are
imported inside the functions that use them, so that importing the toolkit stays fast.
"""

from __future__ import annotations

import difflib
import html
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import ConfigError
from toolkit.explanations import Explanation

LEVELS = ("word", "token")
"""What a view shows: the words of the text, or the model's WordPiece tokens."""

# Diverging colours for HTML, the two ends of matplotlib's RdYlGn so all views agree.
_GREEN = (26, 152, 80)
_RED = (215, 48, 39)

# PNG layout, in inches: cells of fixed size, a long sentence wraps onto further lines.
_DPI = 110
_CELL_W = 0.8
_CELL_H = 0.42
_MAX_COLS = 24
_MAX_GRID_H = 40.0
_LABEL_W = 2.6
_TOP, _BOTTOM = 0.45, 0.8
_COLORBAR_W = 3.2


@dataclass(frozen=True)
class _Cell:
    text: str
    score: float
    share: float  # score / max |score| of its sentence, in [-1, 1]; 0 for special tokens
    special: bool
    focus: bool = False  # the word whose tag is explained (token classification)


def text_legend(*, color: bool = True) -> str:
    """How to read :func:`as_text`'s output, in one line (``ptm explain`` prints it beneath)."""
    if color:
        return ("legend: green words push towards the label in bold above them, red ones against it; "
                "bold = close to the sentence's strongest word, dim = weak")
    return ("legend: word(+0.42) is the word's attribution to the label above it: + pushes towards "
            "that label, - against it; the larger |value|, the more the word moved the prediction")


def as_text(explanations: Iterable[Explanation], *, color: bool = True) -> str:
    """One header line and one line of words per explanation, for a terminal or a pipe.

    The header reads ``positive (p=0.93, method ig, delta 0.0012)`` (no delta where the method
    has none). With ``color`` the words carry ANSI colours: green towards the label, red against
    it, dim / plain / bold by share of the sentence's largest |attribution|. Without it each word
    is written as ``word(+0.42)``. A single :class:`Explanation` is accepted too.
    """
    rows = _rows(explanations, "word")
    if not color:
        blocks = [
            _header(e) + "\n" + " ".join(
                c.text if c.special else f"{_marked(c)}({c.score:+.2f})" for c in cells)
            for e, cells in rows
        ]
        return "\n\n".join(blocks)

    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    # The caller decides about colour (e.g. sys.stdout.isatty()), so the environment is not asked.
    console = Console(
        file=buffer,
        force_terminal=True,
        color_system="standard",
        no_color=False,
        width=100_000,
        highlight=False,
        markup=False,
        emoji=False,
    )
    for n, (e, cells) in enumerate(rows):
        if n:
            console.print()
        header = Text(_header(e))
        header.stylize("bold", 0, len(e.target_label))
        console.print(header, soft_wrap=True)
        line = Text()
        for i, cell in enumerate(cells):
            if i:
                line.append(" ")
            style = _terminal_style(cell.share)
            line.append(cell.text, style=f"{style} underline reverse".strip() if cell.focus else style)
        console.print(line, soft_wrap=True)
    return buffer.getvalue().rstrip("\n")


def as_html(explanations: Iterable[Explanation], *, level: str = "word") -> str:
    """A self-contained HTML fragment (inline CSS, no scripts), e.g. for ``IPython.display.HTML``.

    Per sentence a header (label, probability, method, delta) and the words, or with
    ``level="token"`` every WordPiece token (special tokens greyed), as spans whose background
    is green or red with strength by share of the sentence's largest |attribution|; hovering
    shows the score. All text is HTML-escaped.
    """
    rows = _rows(explanations, level)
    parts = ['<div class="ptm-explanations" style="font-family:system-ui,sans-serif;line-height:2">']
    for e, cells in rows:
        details = f"p={e.probability:.2f} · method {e.method}"
        if e.delta is not None:
            details += f" · delta {e.delta:.2g}"
        parts.append('<div style="margin:0 0 0.6em 0">')
        parts.append(
            f'<div><strong>{_esc(e.target_label)}</strong>{_esc(_of_word(e))} '
            f'<span style="color:#666">{_esc(details)}</span></div>'
        )
        spans = [_html_span(cell) for cell in cells]
        parts.append("<div>" + " ".join(spans) + "</div>")
        parts.append("</div>")
    parts.append(
        '<div style="font-size:0.85em;color:#666">'
        f'<span style="background-color:{_background(0.7)};padding:0 0.3em">green</span> '
        f'pushes towards the label, <span style="background-color:{_background(-0.7)};'
        'padding:0 0.3em">red</span> against it; stronger colour = closer to the largest '
        "|attribution| in its sentence; hover for the score.</div>"
    )
    parts.append("</div>")
    return "\n".join(parts)


def save_png(explanations: Iterable[Explanation], path: str | Path, *, level: str = "word") -> Path:
    """A heatmap PNG: one row per sentence, one cell per word (or token), coloured by attribution.

    Colours come from "RdYlGn", each row scaled to [-max|a|, +max|a|] of its own sentence, so a
    cell shows a word's share of its sentence's strongest attribution. A sentence longer than
    24 cells wraps onto further lines; shorter rows are padded with blank cells. Creates the
    parent folders and returns ``path``.
    """
    rows = _rows(explanations, level)
    path = Path(path)

    import numpy as np
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    methods = {e.method for e, _ in rows}
    lines: list[tuple[str, list[_Cell]]] = []  # (row label, cells) per drawn line
    starts: list[int] = []  # the first line of each sentence
    for n, (e, cells) in enumerate(rows, 1):
        label = f"{e.target_label}{_of_word(e)}  p={e.probability:.2f}"
        if len(methods) > 1:
            label += f"  ({e.method})"
        if len(rows) > 1:
            label = f"{n}. {label}"
        starts.append(len(lines))
        chunks = [cells[i : i + _MAX_COLS] for i in range(0, len(cells), _MAX_COLS)] or [[]]
        lines.extend((label if k == 0 else "", chunk) for k, chunk in enumerate(chunks))

    n_cols = max(1, *(len(chunk) for _, chunk in lines))
    cell_h = min(_CELL_H, _MAX_GRID_H / len(lines))
    grid_w, grid_h = n_cols * _CELL_W, len(lines) * cell_h
    width = _LABEL_W + max(grid_w, _COLORBAR_W) + 0.3
    height = _TOP + grid_h + _BOTTOM
    font = min(9.0, cell_h * 72 * 0.5)

    cmap = colormaps["RdYlGn"]
    norm = Normalize(-1.0, 1.0)
    image = np.ones((len(lines), n_cols, 4))  # padding stays white
    # A bare Figure (Agg when saved) leaves pyplot's state and a notebook's backend untouched.
    fig = Figure(figsize=(width, height), dpi=_DPI)
    ax = fig.add_axes((_LABEL_W / width, _BOTTOM / height, grid_w / width, grid_h / height))
    for y, (_, chunk) in enumerate(lines):
        for x, cell in enumerate(chunk):
            colour = (0.9, 0.9, 0.9, 1.0) if cell.special else cmap(norm(cell.share))
            image[y, x] = colour
            text, size = _fit(cell.text, font)
            ink = _ink(colour, cell.special)
            ax.text(x, y, text, ha="center", va="center", fontsize=size, color=ink,
                    fontweight="bold" if cell.focus else "normal")
            if cell.focus:  # the word whose tag is explained: boxed
                from matplotlib.patches import Rectangle

                ax.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2.5, zorder=3))
    ax.imshow(image, aspect="auto", interpolation="nearest")

    ax.set_yticks(range(len(lines)), [label for label, _ in lines], fontsize=min(9.0, font + 1))
    ax.set_xticks([])
    ax.set_xticks(np.arange(-0.5, n_cols), minor=True)
    ax.set_yticks(np.arange(-0.5, len(lines)), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.2)
    ax.tick_params(which="both", length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if len(lines) > len(rows):  # some sentence wrapped: mark where each one starts
        for start in starts[1:]:
            ax.axhline(start - 0.5, color="#444", linewidth=1.0)
    title = f"{level} attributions"
    if len(methods) == 1:
        title += f" · method {rows[0][0].method}"
    ax.set_title(title, fontsize=10, loc="left")

    cax = fig.add_axes((_LABEL_W / width, 0.45 / height, _COLORBAR_W / width, 0.14 / height))
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
    bar.set_ticks([-1.0, 0.0, 1.0], labels=["against (−max)", "0", "towards (+max)"])
    bar.ax.tick_params(labelsize=7)
    bar.set_label("share of the sentence's largest |attribution|", fontsize=7)

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=_DPI, bbox_inches="tight", pad_inches=0.15, facecolor="white")
    return path


def _rows(explanations: Iterable[Explanation], level: str) -> list[tuple[Explanation, list[_Cell]]]:
    """Check the arguments and give each explanation's cells with scores scaled per sentence."""
    if level not in LEVELS:
        close = difflib.get_close_matches(str(level), LEVELS, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise ConfigError(f"level {level!r} not known.{hint} (choose 'word' or 'token')")
    items = [explanations] if isinstance(explanations, Explanation) else list(explanations)
    if not items:
        raise ConfigError("no explanations to show: the list is empty (explain at least one text first)")
    return [(e, _cells(e, level)) for e in items]


def _cells(e: Explanation, level: str) -> list[_Cell]:
    if level == "word":
        texts, scores, specials = e.words, e.word_attributions, [False] * len(e.words)
        if len(scores) != len(texts):
            raise ConfigError(
                f"explanation of {e.text!r} has {len(texts)} words but {len(scores)} word attributions"
            )
    else:
        texts, scores = e.tokens, e.attributions
        specials = [w is None for w in e.word_ids]
        if not len(texts) == len(scores) == len(specials):
            raise ConfigError(
                f"explanation of {e.text!r} has {len(texts)} tokens, {len(scores)} attributions "
                f"and {len(specials)} word ids; they should match"
            )
    # Special tokens are greyed, so they take no part in the scale of the coloured ones.
    scale = max(
        (abs(s) for s, special in zip(scores, specials) if not special and math.isfinite(s)),
        default=0.0,
    )
    focus = [e.focus is not None and (i if level == "word" else e.word_ids[i]) == e.focus for i in range(len(texts))]
    cells = [
        _Cell(
            text=text,
            score=float(score),
            share=score / scale if scale and not special and math.isfinite(score) else 0.0,
            special=special,
            focus=focused,
        )
        for text, score, special, focused in zip(texts, scores, specials, focus)
    ]
    if level == "word" and 1 in e.word_segments:
        # A sentence pair: a greyed separator where the second text's words begin.
        cells.insert(e.word_segments.index(1), _Cell(text="[SEP]", score=0.0, share=0.0, special=True))
    return cells


def _header(e: Explanation) -> str:
    details = f"p={e.probability:.2f}, method {e.method}"
    if e.delta is not None:
        details += f", delta {e.delta:.2g}"
    return f"{e.target_label}{_of_word(e)} ({details})"


def _of_word(e: Explanation) -> str:
    """`` of word 3 'Oslo'`` for the explanation of one word's tag, else nothing."""
    if e.focus is None or not 0 <= e.focus < len(e.words):
        return ""
    return f" of word {e.focus} '{e.words[e.focus]}'"


def _marked(cell: _Cell) -> str:
    return f"[{cell.text}]" if cell.focus else cell.text


def _terminal_style(share: float) -> str:
    if share == 0:
        return ""
    hue = "green" if share > 0 else "red"
    strength = abs(share)
    if strength >= 2 / 3:
        return f"bold {hue}"
    return hue if strength >= 1 / 3 else f"dim {hue}"


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def _background(share: float) -> str:
    if share == 0:
        return "transparent"
    red, green, blue = _GREEN if share > 0 else _RED
    return f"rgba({red},{green},{blue},{0.85 * abs(share):.2f})"


def _html_span(cell: _Cell) -> str:
    if cell.special:
        title = f"special token, attribution {cell.score:+.3f}"
        style = "color:#999;padding:0 0.2em"
    else:
        title = f"attribution {cell.score:+.3f}"
        style = f"background-color:{_background(cell.share)};padding:0.1em 0.25em;border-radius:0.25em"
        if cell.focus:  # the word whose tag is explained
            style += ";outline:2px solid #000;font-weight:bold"
            title = f"explained word, {title}"
    return f'<span title="{_esc(title)}" style="{style}">{_esc(cell.text)}</span>'


def _fit(text: str, font: float) -> tuple[str, float]:
    """Shrink the font so ``text`` fits a cell, and cut it short with "…" below a legible size."""
    room = _CELL_W * 72 * 0.9 / 0.6  # a cell's width in units of an average glyph at 1 pt
    size = min(font, room / max(len(text), 1))
    smallest = min(font, 5.5)
    if size >= smallest:
        return text, size
    keep = max(int(room / smallest) - 1, 1)
    return text[:keep] + "…", smallest


def _ink(colour: tuple[float, ...], special: bool) -> str:
    if special:
        return "#777"
    red, green, blue = colour[:3]
    return "white" if 0.299 * red + 0.587 * green + 0.114 * blue < 0.45 else "#222"
