"""The record every explainer returns, so that methods can be compared side by side.

An explainer (``ExplainerSpec.factory``) is called as ``factory(model, tokenizer, **options)``
and returns an object whose ``explain(texts, *, target=None)`` gives one :class:`Explanation`
per text. Unknown options raise :class:`toolkit.errors.ConfigError`. An explainer that can
explain sentence pairs (tasks with two inputs) also takes ``text_pairs=`` (one second text per
text) and attributes over both segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Explanation:
    """Attributions of one prediction, per WordPiece token and per word.

    Attributes:
        text: the sentence explained (the first segment of a pair).
        method: the explainer id (``"ig"``, ``"saliency"``, ...).
        tokens: the model's tokens, special tokens included (``[CLS] ... [SEP]``).
        token_ids: their vocabulary ids.
        attributions: one score per token; positive pushes towards ``target``.
        word_ids: for each token, the index of the word it belongs to in ``words`` (None for
            special tokens).
        words: the words as written (pieces joined back): those of ``text``, then, for a pair,
            those of ``text_pair``.
        word_attributions: one score per word: the sum of its pieces' scores.
        target: the class index explained.
        target_label: its name.
        probability: the model's probability of ``target`` for ``text``.
        delta: the convergence error (integrated gradients: sum of attributions minus the
            logit difference between input and baseline); None where a method has none.
        options: the method's settings (baseline, n_steps, ...), as recorded in the JSON.
        text_pair: the second text of a sentence pair; None for one text.
        word_segments: for a pair, the segment of each word (0: ``text``, 1: ``text_pair``);
            empty for one text.
        focus: for a word's tag (token classification), the index in ``words`` of the word
            whose tag is explained; None when the explanation is of the whole text's class.
    """

    text: str
    method: str
    tokens: tuple[str, ...]
    token_ids: tuple[int, ...]
    attributions: tuple[float, ...]
    word_ids: tuple[int | None, ...]
    words: tuple[str, ...]
    word_attributions: tuple[float, ...]
    target: int
    target_label: str
    probability: float
    delta: float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    text_pair: str | None = None
    word_segments: tuple[int, ...] = ()
    focus: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out

    def top_words(self, k: int) -> list[str]:
        """The ``k`` words with the largest attributions towards the target."""
        order = sorted(range(len(self.words)), key=lambda i: -self.word_attributions[i])
        return [self.words[i] for i in order[:k]]


def words_from_pieces(
    text: str,
    word_ids: Sequence[int | None],
    offsets: Sequence[tuple[int, int]],
    attributions: Sequence[float],
) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """Join WordPiece pieces back into the words of ``text``, summing their attributions.

    ``word_ids`` and ``offsets`` are what a fast tokenizer gives for one encoding
    (``encoding.word_ids()``, ``return_offsets_mapping=True``); special tokens have no word.
    Summing is right for attribution methods that are additive over features (integrated
    gradients, input x gradient, ablation): a word's score is what its pieces jointly carry.
    """
    spans: dict[int, list[int]] = {}
    scores: dict[int, float] = {}
    for word, (start, end), score in zip(word_ids, offsets, attributions):
        if word is None:
            continue
        span = spans.setdefault(word, [start, end])
        span[0], span[1] = min(span[0], start), max(span[1], end)
        scores[word] = scores.get(word, 0.0) + float(score)
    order = sorted(spans)
    return (
        tuple(text[spans[w][0] : spans[w][1]] for w in order),
        tuple(scores[w] for w in order),
    )


def encoding_words(
    text: str,
    text_pair: str | None,
    encoding: Any,
    attributions: Sequence[float],
) -> tuple[tuple[int | None, ...], tuple[str, ...], tuple[float, ...], tuple[int, ...]]:
    """Words of one fast-tokenizer encoding of ``text`` (and ``text_pair``), for an Explanation.

    ``encoding`` is what ``tokenizer(text, text_pair, return_offsets_mapping=True)`` gives (one
    text, not a batch). Returns each token's word index, the words, their scores (pieces
    summed) and each word's segment. A pair's tokenizer numbers the words of each segment
    from 0 and gives offsets into that segment's own text; here the second segment's words
    come after the first's, so one index addresses ``words``. For one text the segments are
    empty.
    """
    word_ids = list(encoding.word_ids())
    offsets = [tuple(o) for o in encoding["offset_mapping"]]
    if text_pair is None:
        words, scores = words_from_pieces(text, word_ids, offsets, attributions)
        return tuple(word_ids), words, scores, ()
    sequence_ids = encoding.sequence_ids()
    global_ids: list[int | None] = [None] * len(word_ids)
    all_words: list[str] = []
    all_scores: list[float] = []
    segments: list[int] = []
    for segment, segment_text in enumerate((text, text_pair)):
        positions = [i for i, s in enumerate(sequence_ids) if s == segment and word_ids[i] is not None]
        local = sorted({word_ids[i] for i in positions})
        rank = {w: len(all_words) + r for r, w in enumerate(local)}
        for i in positions:
            global_ids[i] = rank[word_ids[i]]
        words, scores = words_from_pieces(
            segment_text,
            [word_ids[i] for i in positions],
            [offsets[i] for i in positions],
            [attributions[i] for i in positions],
        )
        all_words += words
        all_scores += scores
        segments += [segment] * len(words)
    return tuple(global_ids), tuple(all_words), tuple(all_scores), tuple(segments)


def explanation_from_scores(
    text: str,
    tokenizer: Any,
    scores: Sequence[float],
    *,
    method: str,
    target: int,
    label_names: Sequence[str],
    probability: float,
    max_length: int = 128,
    delta: float | None = None,
    options: dict[str, Any] | None = None,
    text_pair: str | None = None,
) -> Explanation:
    """The :class:`Explanation` of ``text`` from one score per token, for explainer authors.

    ``scores`` must follow the tokens of ``tokenizer(text, text_pair, truncation=True,
    max_length=max_length)``, special tokens included (give them 0). The text is tokenized
    again here (a fast tokenizer is needed, for the offsets) to fill in the tokens, the
    word of each token and the word-level scores (the pieces of a word summed).
    """
    from toolkit.errors import ConfigError

    if not getattr(tokenizer, "is_fast", False):
        raise ConfigError("explanations need a fast (Rust) tokenizer to map pieces back to words")
    encoding = tokenizer(
        text, text_pair, truncation=True, max_length=max_length, return_offsets_mapping=True
    )
    ids = list(encoding["input_ids"])
    if len(scores) != len(ids):
        raise ConfigError(
            f"{len(scores)} scores for {len(ids)} tokens of '{text[:40]}': give one score per token, "
            "[CLS] and [SEP] included"
        )
    if not 0 <= target < len(label_names):
        raise ConfigError(f"target {target} is out of range: the model has {len(label_names)} classes")
    word_ids, words, word_scores, segments = encoding_words(text, text_pair, encoding, scores)
    return Explanation(
        text=text,
        method=method,
        tokens=tuple(tokenizer.convert_ids_to_tokens(ids)),
        token_ids=tuple(ids),
        attributions=tuple(float(s) for s in scores),
        word_ids=word_ids,
        words=words,
        word_attributions=word_scores,
        target=int(target),
        target_label=str(label_names[target]),
        probability=float(probability),
        delta=delta,
        options=dict(options or {}),
        text_pair=text_pair,
        word_segments=segments,
    )
