"""The contracts between the core and plugins, as ``typing.Protocol`` classes.

A plugin's objects need no base class: anything with these methods fits (a type checker says
so statically, and the core checks the methods at run time with :func:`conform`, naming what is
missing in one line instead of failing later with an AttributeError). The records of
:mod:`toolkit.registry` say which protocol their factory's product follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, runtime_checkable

from toolkit.errors import PtmError


@runtime_checkable
class Trainer(Protocol):
    """What a trainer (``TrainerSpec.factory(loaded_model, device=...)``) gives the core.

    ``check`` resolves the user's hyper-parameters (a dict of those given) into the config
    the run uses (with at least ``batch_size`` and ``epochs``) or raises ``ConfigError``;
    ``fit`` reports its epochs, steps and evaluations through ``run.events`` and returns the
    metrics (``final``: the task's scores, ``history``, ``step_loss``, ...); ``evaluate``
    returns the task's metrics and ``n``; ``predict_proba`` gives class probabilities, one row
    per text; ``save`` writes safetensors weights, config and tokenizer to a folder.
    """

    model: Any
    tokenizer: Any
    device: str

    @property
    def label_names(self) -> list[str]: ...

    def check(self, config: Mapping[str, Any]) -> Any: ...

    def fit(self, train: Sequence[Any], test: Sequence[Any], config: Mapping[str, Any], *,
            run: Any = None, privacy: Any = None, resume: bool = False) -> dict[str, Any]: ...

    def evaluate(self, examples: Sequence[Any], config: Any = None, *, run: Any = None,
                 split: str = "test") -> dict[str, Any]: ...

    def predict_proba(self, texts: Sequence[str], *, text_pairs: Sequence[str] | None = None) -> Any: ...

    def save(self, model_dir: Path) -> None: ...


class TrainerFactory(Protocol):
    """A trainer class (or any callable with ``from_saved``): builds a trainer for a freshly
    loaded model, or reloads one from a run's ``model/`` folder."""

    def __call__(self, loaded: Any, *, device: str = "auto") -> Trainer: ...

    def from_saved(self, model_dir: Path, *, device: str = "auto") -> Trainer: ...


@runtime_checkable
class WordTagger(Trainer, Protocol):
    """A trainer for a per-word task (``TaskSpec.labels == "per-word"``), which ``ptm predict``
    and ``ptm explain --word`` need besides the trainer contract.

    ``predict_words`` gives per text ``{"text", "words": [{"word", "tag", "probability"}],
    "entities": [...]}``; ``word_position`` the index of a word (an index or the word as
    written) and the position of its first piece; ``word_view`` the model seen as the
    classifier of the token at a position (what any explainer of a text's class then explains).
    """

    def predict_words(self, texts: Sequence[str]) -> list[dict[str, Any]]: ...

    def word_position(self, text: str, word: int | str) -> tuple[int, int]: ...

    def word_view(self, position: int) -> Any: ...


@runtime_checkable
class PrivacyMechanism(Protocol):
    """What a privacy mechanism (``PrivacySpec.factory(**options)``) gives the trainer (see
    :class:`toolkit.registry.PrivacySpec` for each method; ``state``/``load_state`` and
    ``distributed`` are optional)."""

    def plan(self, examples: int, batch_size: int, epochs: int) -> None: ...

    def wrap(self, model: Any, optimizer: Any, criterion: Any, loader: Any, *, epochs: int) -> tuple[Any, ...]: ...

    def accumulate(self, optimizer: Any) -> None: ...

    def epsilon(self) -> float: ...

    def report(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@runtime_checkable
class Explainer(Protocol):
    """What an explainer (``ExplainerSpec.factory(model, tokenizer, **options)``) gives: one
    :class:`toolkit.explanations.Explanation` per text (``text_pairs=`` too where it explains
    sentence pairs)."""

    def explain(self, texts: Sequence[str], *, target: int | str | None = None) -> Iterable[Any]: ...


@runtime_checkable
class Task(Protocol):
    """A learning problem as the core reads it (:class:`toolkit.registry.TaskSpec` is one)."""

    id: str
    inputs: tuple[str, ...]
    labels: str
    head: str
    trainer: str
    metrics: tuple[str, ...]
    data: str

    def label_of(self, metric: str) -> str: ...


class PluginHost(Protocol):
    """The plugin manager as :class:`toolkit.hooks.Hooks` uses it (so the facade needs no
    import of :mod:`toolkit.manager`, which builds it)."""

    hook: Any
    statuses: dict[str, Any]

    def list_name_plugin(self) -> list[tuple[str, object]]: ...

    def get_plugin(self, name: str) -> Any: ...

    def get_hookcallers(self, plugin: object) -> Any: ...

    def fail(self, name: str, error: BaseException, *, during: str) -> None: ...


P = TypeVar("P")


def members(protocol: type) -> list[str]:
    """The public attributes and methods a protocol asks for (its own and its bases')."""
    names: set[str] = set()
    for cls in protocol.__mro__:
        if cls in (object, Protocol) or not getattr(cls, "_is_protocol", False):
            continue
        names.update(getattr(cls, "__annotations__", {}))
        names.update(n for n, v in vars(cls).items() if callable(v) or isinstance(v, property))
    return sorted(n for n in names if not n.startswith("_"))


def missing(obj: object, protocol: type) -> list[str]:
    """The members of ``protocol`` that ``obj`` lacks (methods must be callable)."""
    out = []
    for name in members(protocol):
        if not hasattr(obj, name):
            out.append(name)
        elif callable(getattr(protocol, name, None)) and not callable(getattr(obj, name)):
            out.append(name)
    return out


def conform(obj: P, protocol: type, what: str) -> P:
    """``obj`` when it has every member of ``protocol``; else a one-line error naming ``what``
    (``trainer 'finetune' of plugin 'ptm_bert'``) and what it lacks."""
    lacking = missing(obj, protocol)
    if lacking:
        raise PtmError(
            f"{what} returned a {type(obj).__name__} without {', '.join(lacking)}, which the "
            f"{protocol.__name__} contract needs (toolkit.protocols.{protocol.__name__})"
        )
    return obj

