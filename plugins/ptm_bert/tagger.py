"""Fine-tuning a BERT token classifier: one BIO tag per word (named entities).

The training loop is :class:`ptm_bert.trainer.FineTuner`'s; what differs for tagging is here:

- words to WordPiece labels: a word cut into pieces (``Lisbon`` -> ``lis ##bon``) is labelled on
  its first piece; the other pieces and the special tokens get -100, which the loss ignores
  (as in BERT's CoNLL-2003 experiments, Devlin et al. 2019, section 5.3);
- the loss: cross-entropy over the labelled pieces of the batch;
- the scores: entity-level precision, recall and F1 with seqeval (an entity counts only when its
  type and both its ends are right, as the CoNLL shared task scored it), and token accuracy;
- prediction: the tag of each word is the argmax at its first piece.

Raw text (``ptm predict RUN "Ana moved to Porto."``) is cut into words by the tokenizer's own
pre-tokenizer (whitespace and punctuation), the words a CoNLL file would hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolkit.context import RunContext
from toolkit.errors import ConfigError
from toolkit.lifecycle import events_of

from ptm_bert.trainer import FineTuner, TrainConfig, _as_config

IGNORED = -100
"""The label of pieces the loss skips (PyTorch's ``CrossEntropyLoss`` ``ignore_index``)."""


class TokenTagger(FineTuner):
    """Fine-tunes, evaluates, saves and reloads a token classifier (``head="token"``)."""

    # Opacus' per-example gradients assume one loss term per example; a sentence's tags are many.
    supports_privacy = False

    # Tuned on the dev split of `entities` (MiniLM, seed 42, batch 8; NOTES.md): lr 1e-4 for 1 or
    # 3 epochs reached dev entity-F1 0.20 / 0.71, lr 3e-4 for 3 epochs 0.94. A fresh token head
    # over six layers wants a larger step than a sentence head does.
    defaults = {"epochs": 3, "lr": 3e-4}

    def check(self, config: TrainConfig | dict[str, Any]) -> TrainConfig:
        """The trainer's defaults (:attr:`defaults`) under the user's own values, checked."""
        if isinstance(config, dict):
            config = {**self.defaults, **config}
        return super().check(config)

    def words(self, text: str) -> list[str]:
        """The words of a raw text, as the tokenizer's pre-tokenizer splits it (case kept)."""
        pieces = self.tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text)
        return [text[start:end] for _, (start, end) in pieces]

    # -- data -----------------------------------------------------------------------------

    def _encode_words(self, sentences: Sequence[Sequence[str]], max_length: int) -> Any:
        return self.tokenizer([list(w) for w in sentences], is_split_into_words=True,
                              truncation=True, max_length=max_length)

    def encode(self, examples: Sequence[Any], max_length: int) -> list[dict[str, Any]]:
        """Tokenize each sentence's words; label each word's first piece with its tag."""
        missing = next((e for e in examples if not e.words), None)
        if missing is not None:
            raise ConfigError(
                f"example '{missing.text[:30]}' has no words and tags; the tagging trainer needs "
                "token-classification data (CoNLL or JSONL with tokens and tags)"
            )
        encoded = self._encode_words([e.words for e in examples], max_length)
        features = []
        for i, example in enumerate(examples):
            labels, previous = [], None
            for word in encoded.word_ids(i):
                labels.append(IGNORED if word is None or word == previous else example.tags[word])
                previous = word
            features.append({**{k: v[i] for k, v in encoded.items()}, "labels": labels})
        return features

    def collator(self) -> Any:
        from transformers import DataCollatorForTokenClassification

        return DataCollatorForTokenClassification(self.tokenizer, label_pad_token_id=IGNORED)

    def loss(self, criterion: Any, logits: Any, labels: Any) -> Any:
        # criterion is CrossEntropyLoss, whose ignore_index is -100: the mean over labelled pieces
        return criterion(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1))

    # -- inference ------------------------------------------------------------------------

    def word_probabilities(self, sentences: Sequence[Sequence[str]], *, max_length: int = 128,
                           batch_size: int = 64) -> list[Any]:
        """For each sentence, a (words, tags) tensor of tag probabilities at each word's first
        piece. Words past ``max_length`` pieces get no prediction and are given ``O``
        (probability 1), with a warning."""
        import torch

        from toolkit.tokens import warn_truncated

        encoded = self._encode_words(sentences, max_length)
        warn_truncated(self.tokenizer, [" ".join(s) for s in sentences], None, encoded["input_ids"],
                       max_length, self.max_positions)
        outside = self.label_names.index("O") if "O" in self.label_names else 0
        collate = self.collator()
        order = sorted(range(len(sentences)), key=lambda i: len(encoded["input_ids"][i]))
        out: list[Any] = [None] * len(sentences)
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                batch = collate([{k: encoded[k][i] for k in encoded.keys()} for i in idx])
                probs = self.model(**{k: v.to(self.device) for k, v in batch.items()}).logits.float().softmax(-1).cpu()
                for row, i in enumerate(idx):
                    rows = torch.zeros(len(sentences[i]), len(self.label_names))
                    rows[:, outside] = 1.0  # words cut off by max_length
                    previous = None
                    for position, word in enumerate(encoded.word_ids(i)):
                        if word is not None and word != previous:
                            rows[word] = probs[row, position]
                        previous = word
                    out[i] = rows
        return out

    def predict_words(self, texts: Sequence[str], *, max_length: int = 128) -> list[dict[str, Any]]:
        """Each text's words with their predicted tag and its probability, and the entities."""
        from seqeval.metrics.sequence_labeling import get_entities

        sentences = [self.words(t) for t in texts]
        rows = []
        for text, words, probs in zip(texts, sentences, self.word_probabilities(sentences, max_length=max_length)):
            best = probs.argmax(-1).tolist()
            tags = [self.label_names[b] for b in best]
            rows.append({
                "text": text,
                "words": [{"word": w, "tag": t, "probability": float(probs[k, b])}
                          for k, (w, t, b) in enumerate(zip(words, tags, best))],
                "entities": [{"type": kind, "text": " ".join(words[s : e + 1]), "start": s, "end": e + 1}
                             for kind, s, e in get_entities(tags)],
            })
        return rows

    def predict_proba(self, texts: Sequence[str], *, text_pairs: Sequence[str] | None = None,
                      max_length: int = 128, batch_size: int = 64) -> list[Any]:
        """Tag probabilities, one (words, tags) tensor per text (its words: :meth:`words`)."""
        if text_pairs is not None:
            raise ConfigError("the tagging trainer takes one text per example, not pairs")
        return self.word_probabilities([self.words(t) for t in texts], max_length=max_length, batch_size=batch_size)

    def evaluate(self, examples: Sequence[Any], config: TrainConfig | dict[str, Any] | None = None, *,
                 run: RunContext | None = None, split: str = "test") -> dict[str, Any]:
        """Entity-level precision, recall and F1 (seqeval, CoNLL rules), token accuracy, n
        (sentences), and the same three scores per entity type."""
        from seqeval.metrics import accuracy_score, classification_report, f1_score, precision_score, recall_score

        config = _as_config(config)
        if not examples:
            raise ConfigError(f"no examples to evaluate in split '{split}'")
        with events_of(run, "evaluate").evaluate(split) as report:
            probs = self.word_probabilities([e.words for e in examples], max_length=config.max_length,
                                            batch_size=config.eval_batch_size)
            names = self.label_names
            truth = [[names[t] for t in e.tags] for e in examples]
            guess = [[names[i] for i in p.argmax(-1).tolist()] for p in probs]
            per_type = classification_report(truth, guess, output_dict=True, zero_division=0)
            report.scores = {
                "f1": float(f1_score(truth, guess, zero_division=0)),
                "precision": float(precision_score(truth, guess, zero_division=0)),
                "recall": float(recall_score(truth, guess, zero_division=0)),
                "accuracy": float(accuracy_score(truth, guess)),
                "n": len(examples),
                "per_type": {
                    kind: {"precision": float(v["precision"]), "recall": float(v["recall"]),
                           "f1": float(v["f1-score"]), "support": int(v["support"])}
                    for kind, v in per_type.items() if not kind.endswith(" avg")
                },
            }
        return report.scores

    def losses(self, examples: Sequence[Any], *, max_length: int = 128, batch_size: int = 128) -> list[float]:
        """Mean cross-entropy of each sentence's word tags."""
        probs = self.word_probabilities([e.words for e in examples], max_length=max_length, batch_size=batch_size)
        out = []
        for example, rows in zip(examples, probs):
            picked = rows[range(len(example.tags)), list(example.tags)].clamp_min(1e-12)
            out.append(float(-picked.log().mean()))
        return out

    # -- explanation ----------------------------------------------------------------------

    def word_position(self, text: str, word: int | str) -> tuple[int, int]:
        """The index of ``word`` (an index, or the word itself: its first occurrence) among the
        text's words, and the position of its first piece in the encoded text."""
        words = self.words(text)
        if isinstance(word, str) and not word.lstrip("-").isdigit():
            matches = [i for i, w in enumerate(words) if w == word] or [
                i for i, w in enumerate(words) if w.lower() == word.lower()]
            if not matches:
                raise ConfigError(f"'{word}' is not a word of '{text[:40]}'; its words are: {' '.join(words)}")
            index = matches[0]
        else:
            index = int(word)
            if not 0 <= index < len(words):
                raise ConfigError(
                    f"--word {index}: '{text[:40]}' has {len(words)} words, numbered 0 to {len(words) - 1}"
                )
        encoded = self.tokenizer(text, truncation=True, max_length=self.max_positions)
        positions = [p for p, w in enumerate(encoded.word_ids()) if w == index]
        if not positions:
            raise ConfigError(f"word {index} ('{words[index]}') is past the {self.max_positions} tokens the model reads")
        return index, positions[0]

    def word_view(self, position: int) -> Any:
        """The model seen as a classifier of one token: its logits are those at ``position``,
        so any explainer of a text's class explains that word's tag."""
        return WordView(self.model, position)

    @classmethod
    def from_saved(cls, model_dir: Any, *, device: str = "auto") -> TokenTagger:
        from ptm_bert.models import load_pretrained

        loaded = load_pretrained(model_dir, head="token")
        return cls(loaded, device=device)


def _word_view_class() -> type:
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput

    class _WordView(torch.nn.Module):
        def __init__(self, model: Any, position: int) -> None:
            super().__init__()
            self.model = model
            self.position = position
            self.config = model.config

        def get_input_embeddings(self) -> Any:
            return self.model.get_input_embeddings()

        def forward(self, **inputs: Any) -> Any:
            return SequenceClassifierOutput(logits=self.model(**inputs).logits[:, self.position])

    return _WordView


def WordView(model: Any, position: int) -> Any:  # noqa: N802 - a class made on first use (torch is lazy)
    """A token classifier as the classifier of the token at ``position``."""
    return _word_view_class()(model, position)
