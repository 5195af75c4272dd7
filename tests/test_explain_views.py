from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from toolkit.errors import ConfigError
from toolkit.explain_views import as_html, as_text, save_png
from toolkit.explanations import Explanation

ANSI = re.compile(r"\x1b\[([0-9;]*)m")


def _explanation(
    words=("not", "bad", "at", "all"),
    scores=(0.42, -0.31, 0.05, 0.01),
    *,
    label="positive",
    probability=0.93,
    method="ig",
    delta=0.0012,
) -> Explanation:
    """A hand-made explanation: one token per word, framed by [CLS] and [SEP]."""
    return Explanation(
        text=" ".join(words),
        method=method,
        tokens=("[CLS]", *words, "[SEP]"),
        token_ids=tuple(range(100, 102 + len(words))),
        attributions=(0.0, *scores, 0.0),
        word_ids=(None, *range(len(words)), None),
        words=tuple(words),
        word_attributions=tuple(scores),
        target=1,
        target_label=label,
        probability=probability,
        delta=delta,
    )


def _codes_before(text: str, word: str) -> set[str]:
    """The SGR codes in force where ``word`` starts in ANSI ``text``."""
    start = re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", ANSI.sub("", text)).start()
    plain_seen, codes = 0, set()
    for part in re.split(r"(\x1b\[[0-9;]*m)", text):
        match = ANSI.fullmatch(part)
        if match:
            codes = set() if match.group(1) in ("", "0") else codes | set(match.group(1).split(";"))
        else:
            if plain_seen + len(part) > start:
                return codes
            plain_seen += len(part)
    return codes


class _Spans(HTMLParser):
    """Collects (title, text, style) of every span that has a title: the words and tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[tuple[str, str, str]] = []
        self._open: dict[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "span" and "title" in dict(attrs):
            self._open = dict(attrs)

    def handle_data(self, data):
        if self._open is not None:
            self.spans.append((self._open["title"], data, self._open.get("style", "")))
            self._open = None


def _spans(fragment: str) -> list[tuple[str, str, str]]:
    parser = _Spans()
    parser.feed(fragment)
    return parser.spans


# as_text


def test_plain_text_shows_the_header_and_every_word_with_its_signed_score():
    out = as_text([_explanation()], color=False)
    assert out.splitlines() == [
        "positive (p=0.93, method ig, delta 0.0012)",
        "not(+0.42) bad(-0.31) at(+0.05) all(+0.01)",
    ]
    assert "\x1b" not in out


def test_plain_text_leaves_out_delta_where_the_method_has_none():
    out = as_text([_explanation(method="saliency", delta=None)], color=False)
    assert out.splitlines()[0] == "positive (p=0.93, method saliency)"


def test_colour_text_paints_words_towards_the_label_green_and_against_it_red():
    out = as_text([_explanation()], color=True)
    assert ANSI.search(out)
    plain = ANSI.sub("", out)
    assert plain.splitlines() == ["positive (p=0.93, method ig, delta 0.0012)", "not bad at all"]
    assert "32" in _codes_before(out, "not")  # green
    assert "31" in _codes_before(out, "bad")  # red
    assert "1" in _codes_before(out, "not")  # the strongest word is bold
    assert "1" not in _codes_before(out, "all")


def test_text_lists_each_sentence_in_order():
    first = _explanation(label="positive", probability=0.93)
    second = _explanation(("dull", "plot"), (-0.2, -0.7), label="negative", probability=0.61)
    for color in (True, False):
        plain = ANSI.sub("", as_text([first, second], color=color))
        assert plain.index("positive (p=0.93") < plain.index("negative (p=0.61")
        for word in ("not", "bad", "at", "all", "dull", "plot"):
            assert word in plain


def test_text_takes_a_single_explanation_too():
    assert as_text(_explanation(), color=False) == as_text([_explanation()], color=False)


# as_html


def test_html_has_one_span_per_word_with_its_score_and_colour():
    fragment = as_html([_explanation()])
    spans = _spans(fragment)
    assert [text for _, text, _ in spans] == ["not", "bad", "at", "all"]
    assert spans[0][0] == "attribution +0.420"
    assert "rgba(26,152,80" in spans[0][2]  # green
    assert "rgba(215,48,39" in spans[1][2]  # red
    assert "positive" in fragment and "p=0.93" in fragment and "ig" in fragment
    assert "delta 0.0012" in fragment
    assert "<script" not in fragment and "<style" not in fragment


def test_html_escapes_every_text():
    evil = _explanation(("<script>alert(1)</script>", "good"), (0.3, 0.5), label="<b>pos</b>")
    fragment = as_html([evil])
    assert "<script>" not in fragment and "<b>" not in fragment
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in fragment
    assert "&lt;b&gt;pos&lt;/b&gt;" in fragment
    assert [text for _, text, _ in _spans(fragment)] == ["<script>alert(1)</script>", "good"]


def test_html_token_level_shows_special_tokens_greyed():
    spans = _spans(as_html([_explanation()], level="token"))
    assert [text for _, text, _ in spans] == ["[CLS]", "not", "bad", "at", "all", "[SEP]"]
    for title, _, style in (spans[0], spans[-1]):
        assert title.startswith("special token")
        assert "color:#999" in style and "background" not in style


# save_png


def _png_size(path) -> tuple[int, int]:
    from matplotlib.image import imread

    height, width = imread(path).shape[:2]
    return height, width


def _sentences(n: int) -> list[Explanation]:
    """``n`` sentences of 1 to 40 words with mixed signs."""
    out = []
    for i in range(n):
        length = 1 + (i * 7) % 40
        words = tuple(f"w{i}_{j}" for j in range(length))
        scores = tuple(((-1) ** j) * (j + 1) / length for j in range(length))
        out.append(_explanation(words, scores, label=f"label{i % 2}", probability=0.5 + i / 50))
    return out


def test_png_is_written_under_new_folders_and_grows_with_the_sentences(tmp_path):
    one = save_png([_explanation()], tmp_path / "a" / "b" / "one.png")
    many = save_png(_sentences(20), tmp_path / "many.png")
    assert one == tmp_path / "a" / "b" / "one.png"
    for path in (one, many):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (one_h, one_w), (many_h, many_w) = _png_size(one), _png_size(many)
    assert many_h > 3 * one_h
    assert many_w > one_w  # the longest sentence is wider


def test_png_keeps_a_very_long_sentence_to_a_sensible_width(tmp_path):
    words = tuple(f"word{j}" for j in range(200))
    path = save_png([_explanation(words, tuple(range(200)))], tmp_path / "long.png")
    height, width = _png_size(path)
    assert width < 3000 and height > 500  # wrapped onto several lines, not stretched


def test_png_token_level(tmp_path):
    path = save_png([_explanation()], tmp_path / "tokens.png", level="token")
    assert path.read_bytes()[:4] == b"\x89PNG"


# errors and start-up


@pytest.mark.parametrize("render", [as_text, as_html, lambda e: save_png(e, "unused.png")])
def test_an_empty_list_is_refused_with_a_hint(render):
    with pytest.raises(ConfigError, match="no explanations to show"):
        render([])


@pytest.mark.parametrize("render", [as_html, lambda e, level: save_png(e, "unused.png", level=level)])
def test_an_unknown_level_is_refused_and_the_choices_named(render):
    with pytest.raises(ConfigError) as info:
        render([_explanation()], level="tokens")
    message = str(info.value)
    assert "'tokens'" in message and "Did you mean 'token'?" in message and "'word'" in message
    assert "\n" not in message


def test_importing_the_views_loads_neither_matplotlib_nor_rich():
    code = "import sys, toolkit.explain_views; print('matplotlib' in sys.modules, 'rich' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
